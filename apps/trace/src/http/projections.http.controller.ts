import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { requireRole } from '@warden/kernel';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { ListProjections, RebuildProjection, RunRetention } from '../trace.cqrs';

@ApiTags('operations')
@Controller('admin')
export class ProjectionsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get('projections')
  @ApiOperation({ summary: 'Each projection with its consumer status and lag (role platform-admin).' })
  list(@CallerOf() caller: Caller) {
    requireRole(caller, 'trace.operate');
    return this.queries.execute(new ListProjections());
  }

  @Post('projections/:name/rebuild')
  @HttpCode(202)
  @ApiOperation({ summary: 'Truncate a projection and replay it from Kafka (role platform-admin); watch its lag.' })
  rebuild(@Param('name') name: string, @CallerOf() caller: Caller) {
    requireRole(caller, 'trace.operate');
    return this.commands.execute(new RebuildProjection(name));
  }

  @Post('retention/run')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Run a retention pass now (role platform-admin: it spans every tenant): purge runs last active before now minus {days} ' +
      '(default TRACE_RETENTION_DAYS), except held runs. Returns the counts purged.',
  })
  retention(@Body() body: unknown, @CallerOf() caller: Caller) {
    requireRole(caller, 'trace.operate');
    const days = Input.of(body ?? {}).int('days', { optional: true, min: 0, max: 36_500 });
    return this.commands.execute(new RunRetention(days || undefined));
  }
}
