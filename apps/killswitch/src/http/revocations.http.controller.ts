import { Controller, Get, Headers, Query, Res } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { Revocation } from '@warden/killswitch-domain';
import { invalid } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { ListRevocations } from '../kill-switches.cqrs';

@ApiTags('revocations')
@Controller('revocations')
export class RevocationsHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({
    summary:
      'Decision-token revocations in force (effect 2), newest first: a token whose claims fall in a scope and whose ' +
      'iat is before issuedBeforeMs is void. Poll with ?since=<the largest revokedAtMs you hold> for new ones, and ' +
      'If-None-Match with the last ETag (304 when nothing changed). The caller sees its tenant and global entries; platform-admin every tenant.',
  })
  @ApiQuery({ name: 'since', required: false, description: 'epoch ms: only revocations with revokedAtMs >= since' })
  async list(
    @CallerOf() caller: Caller,
    @Res({ passthrough: true }) res: Response,
    @Query('since') since?: string,
    @Headers('if-none-match') ifNoneMatch?: string,
  ): Promise<{ revocations: Revocation[]; latestRevokedAtMs: number } | undefined> {
    if (since !== undefined && !/^\d{1,15}$/.test(since))
      throw invalid('invalid_field', 'since must be epoch milliseconds', 'since');
    const revocations: Revocation[] = await this.queries.execute(
      new ListRevocations(
        { by: caller.subject, roles: caller.roles, tenantId: caller.tenantId },
        Number(since ?? 0),
        Date.now(),
      ),
    );
    const body = { revocations, latestRevokedAtMs: revocations.reduce((m, r) => Math.max(m, r.revokedAtMs), 0) };
    const etag = `"${createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 22)}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (ifNoneMatch === etag) {
      res.status(304);
      return undefined;
    }
    return body;
  }
}
