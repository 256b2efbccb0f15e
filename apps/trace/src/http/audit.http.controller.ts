import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CallerOf } from '@warden/platform/nest';
import { invalid, ownTenant } from '@warden/kernel';
import { MAX_PAGE, pageLimit, text } from '@warden/trace-domain';
import { VerifySource } from '../audit/verify.service';
import { ListAudit, VerifyAudit } from '../trace.cqrs';

@ApiTags('audit')
@Controller('audit')
export class AuditHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({
    summary: "The caller's tenant's audit chain from ?fromSeq (default 1), ?limit records: seq, prev_hash, hash.",
  })
  list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    const fromSeq = Number(text(query, 'fromSeq') ?? '1');
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) {
      throw invalid('invalid_seq', 'fromSeq must be a positive integer', 'fromSeq');
    }
    return this.queries.execute(new ListAudit(ownTenant(caller, 'trace.read'), fromSeq, pageLimit(query, MAX_PAGE)));
  }

  @Get('verify')
  @ApiOperation({
    summary:
      "Verifies the tenant's hash chain and names the first altered, missing or reordered record; " +
      '?source=postgres|kafka|both (default both: each, and the stored copy against Kafka).',
  })
  verify(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    const source = (text(query, 'source') ?? 'both') as VerifySource;
    return this.queries.execute(new VerifyAudit(ownTenant(caller, 'trace.read'), source));
  }
}
