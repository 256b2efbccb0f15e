import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { ownTenant, tokenTenant } from '@warden/kernel';
import { Input, rowViews, ServiceRuntime } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { identityLinksStream, MAX_IDENTITY } from '@warden/registry-domain';
import { listIdentityLinks } from '@warden/registry-read-models';
import { Registry, REGISTRY } from '../registry';
import { changeBy } from './change';

/**
 * Identity links (docs/adr/0116, amendment): the identities of one person — a token subject and
 * its e-mail addresses or other subjects — which separation of duties treats as one voter.
 */
@ApiTags('identity')
@Controller('identities/links')
export class IdentityLinksHttpController {
  constructor(
    @Inject(REGISTRY) private readonly registry: Registry,
    private readonly runtime: ServiceRuntime,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Link a subject to its aliases (e-mails or other subjects of the same person; the whole set, replacing an earlier link of the subject), with a reason. Role admin.',
  })
  async link(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const tenantId = tokenTenant(caller);
    const subject = input.string('subject', { max: MAX_IDENTITY });
    const aliases = input.strings('aliases');
    const { events, state } = await this.registry.links.handle(
      identityLinksStream(tenantId),
      { type: 'LinkIdentities', tenantId, subject, aliases, ...changeBy(input, caller) },
      { eventId: () => randomUUID(), now: Date.now() },
    );
    const link = [...state.links.values()].find((l) => l.subject === subject.trim());
    return { subject: subject.trim(), aliases: link?.aliases ?? [], linked: events.length > 0 };
  }

  @Delete(':subject')
  @HttpCode(200)
  @ApiOperation({ summary: "Remove a subject's link (role admin; reason in the body or ?reason)." })
  async unlink(
    @Param('subject') subject: string,
    @Body() body: unknown,
    @Query() query: Record<string, unknown>,
    @CallerOf() caller: Caller,
  ) {
    const reason =
      Input.of(body ?? {}).string('reason', { optional: true, max: 2000 }) ||
      Input.of(query).string('reason', { optional: true, max: 2000 });
    const input = Input.of({ reason });
    const tenantId = tokenTenant(caller);
    await this.registry.links.handle(
      identityLinksStream(tenantId),
      { type: 'UnlinkIdentities', tenantId, subject, ...changeBy(input, caller) },
      { eventId: () => randomUUID(), now: Date.now() },
    );
    return { subject, unlinked: true };
  }

  @Get()
  @ApiOperation({
    summary: "The caller tenant's identity links (roles admin, approver or auditor); includeUnlinked=true, limit.",
  })
  async list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    const q = Input.of(query);
    const rows = await listIdentityLinks(this.runtime.db, ownTenant(caller, 'registry.identities.read'), {
      includeUnlinked: q.string('includeUnlinked', { optional: true, pattern: /^(true|false)$/ }) === 'true',
      limit: Number(q.string('limit', { optional: true, pattern: /^[1-9]\d{0,3}$/ }) || 100),
    });
    return rowViews(rows);
  }
}
