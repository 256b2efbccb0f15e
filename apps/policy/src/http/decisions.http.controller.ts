import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ownTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { GetDecision } from '../decisions.cqrs';

@ApiTags('decisions')
@Controller('decisions')
export class DecisionsHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':requestId')
  @ApiOperation({ summary: "The decision made for a gate request, with each check's result (caller's tenant only)." })
  get(@Param('requestId') requestId: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetDecision(ownTenant(caller, 'tenant.read'), requestId));
  }
}
