import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CallerOf } from '@warden/platform/nest';
import { MAX_PAGE, pageLimit, readableTenant, runFilter, text } from '@warden/trace-domain';
import { GetRun, ListRuns } from '../trace.cqrs';

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
    return this.queries.execute(new ListRuns(readableTenant(caller), runFilter(query)));
  }

  @Get(':runId')
  @ApiOperation({
    summary: 'A run: its summary and the timeline of its requests (?agentId when several agents used it).',
  })
  get(@Param('runId') runId: string, @Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return this.queries.execute(
      new GetRun(readableTenant(caller), runId, text(query, 'agentId'), pageLimit(query, MAX_PAGE)),
    );
  }
}
