import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CallerOf } from '@warden/platform/nest';
import { GetRunUsage } from '../budget.cqrs';
import { callerTenant } from './caller-tenant';

@ApiTags('runs')
@Controller('runs')
export class RunsHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':runId/usage')
  @ApiOperation({
    summary: "A run's budget usage: tokens reserved, settled and released, reservations, refusals, cost.",
  })
  usage(@Param('runId') runId: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetRunUsage(callerTenant(caller), runId));
  }
}
