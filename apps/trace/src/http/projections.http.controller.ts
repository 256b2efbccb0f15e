import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CallerOf } from '@warden/platform/nest';
import { assertOperator } from '@warden/trace-domain';
import { ListProjections, RebuildProjection } from '../trace.cqrs';

@ApiTags('operations')
@Controller('admin/projections')
export class ProjectionsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Each projection with its consumer status and lag (roles sre or admin).' })
  list(@CallerOf() caller: Caller) {
    assertOperator(caller);
    return this.queries.execute(new ListProjections());
  }

  @Post(':name/rebuild')
  @HttpCode(202)
  @ApiOperation({ summary: 'Truncate a projection and replay it from Kafka (roles sre or admin); watch its lag.' })
  rebuild(@Param('name') name: string, @CallerOf() caller: Caller) {
    assertOperator(caller);
    return this.commands.execute(new RebuildProjection(name));
  }
}
