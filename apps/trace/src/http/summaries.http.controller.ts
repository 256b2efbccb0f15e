import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ownTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { requestQuery } from '@warden/trace-domain';
import { Summarise } from '../trace.cqrs';

@ApiTags('summaries')
@Controller('summaries')
export class SummariesHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get('agents')
  @ApiOperation({
    summary: 'Decisions, outcomes, tokens, cost and decision latency per agent of the tenant: ?agentId, ?from, ?to.',
  })
  agents(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(new Summarise(ownTenant(caller, 'trace.read'), 'agent', requestQuery(query)));
  }

  @Get('tenant')
  @ApiOperation({ summary: "The same summary for the caller's whole tenant: ?from, ?to." })
  tenant(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(new Summarise(ownTenant(caller, 'trace.read'), 'tenant', requestQuery(query)));
  }
}
