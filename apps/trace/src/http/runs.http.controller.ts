import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ownTenant } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { MAX_PAGE, pageLimit, runFilter, text } from '@warden/trace-domain';
import { ExportRun, GetRun, ListRuns, ReplayRun, VerifyRun } from '../trace.cqrs';

@ApiTags('runs')
@Controller('runs')
export class RunsHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({
    summary:
      "The caller's tenant's runs, latest first: ?agentId, ?verdict (runs with such a request), ?from, ?to, ?limit.",
  })
  list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(new ListRuns(ownTenant(caller, 'trace.read'), runFilter(query)));
  }

  @Get(':runId')
  @ApiOperation({
    summary: 'A run: its summary, its holds and the timeline of its requests (?agentId when several agents used it).',
  })
  get(@Param('runId') runId: string, @Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(
      new GetRun(ownTenant(caller, 'trace.read'), runId, text(query, 'agentId'), pageLimit(query, MAX_PAGE)),
    );
  }

  @Get(':runId/export')
  @ApiOperation({
    summary:
      'The incident bundle of a run (JSON): summaries, holds, every request chain, its audit records and the ' +
      "tenant chain's verification; ?replay=true adds the timeline and verification replayed from Kafka.",
  })
  export(@Param('runId') runId: string, @Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(
      new ExportRun(ownTenant(caller, 'trace.read'), runId, text(query, 'replay') === 'true'),
    );
  }

  @Get(':runId/replay')
  @ApiOperation({
    summary: "The run's timeline rebuilt from the Kafka events alone (no Postgres, no orchestrator).",
  })
  replay(@Param('runId') runId: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new ReplayRun(ownTenant(caller, 'trace.read'), runId));
  }

  @Get(':runId/verify')
  @ApiOperation({
    summary:
      "Re-evaluates the run's recorded decisions from the state they recorded and lists those that differ; " +
      '?bundle=<version> re-evaluates all with that bundle instead (what-if).',
  })
  verify(@Param('runId') runId: string, @Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(new VerifyRun(ownTenant(caller, 'trace.read'), runId, text(query, 'bundle')));
  }
}
