import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ownTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { requestQuery } from '@warden/trace-domain';
import { GetRequest, ListRequests } from '../trace.cqrs';

@ApiTags('requests')
@Controller('requests')
export class RequestsHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({
    summary: "The caller's tenant's requests, latest first: ?runId, ?agentId, ?verdict, ?from, ?to, ?limit.",
  })
  list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(new ListRequests(ownTenant(caller, 'trace.read'), requestQuery(query)));
  }

  @Get(':id')
  @ApiOperation({
    summary: "A gate request's whole chain: request, reservation, decision, approval, outcome (caller's tenant).",
  })
  get(@Param('id') id: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetRequest(ownTenant(caller, 'trace.read'), id));
  }
}
