import { Controller, Get, Param } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CallerOf } from '@warden/platform/nest';
import { readableTenant } from '@warden/trace-domain';
import { GetRequest } from '../trace.cqrs';

@ApiTags('requests')
@Controller('requests')
export class RequestsHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':id')
  @ApiOperation({
    summary: "A gate request's whole chain: request, reservation, decision, approval, outcome (caller's tenant).",
  })
  get(@Param('id') id: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetRequest(readableTenant(caller), id));
  }
}
