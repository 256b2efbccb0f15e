import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { conflict, notFound } from '@warden/kernel';
import { ServiceRuntime } from '@warden/platform';
import { RunFilter } from '@warden/trace-domain';
import { getRequest, getRuns, listRuns, runTimeline } from '@warden/trace-read-models';
import { TraceProjections } from './projections';

/** Bus messages: the read-model queries and the operator's rebuild command. */
export class GetRequest {
  constructor(
    readonly tenantId: string,
    readonly requestId: string,
  ) {}
}
export class GetRun {
  constructor(
    readonly tenantId: string,
    readonly runId: string,
    readonly agentId: string | undefined,
    readonly limit: number,
  ) {}
}
export class ListRuns {
  constructor(
    readonly tenantId: string,
    readonly filter: RunFilter,
  ) {}
}
export class ListProjections {}
export class RebuildProjection {
  constructor(readonly name: string) {}
}

@QueryHandler(GetRequest)
export class GetRequestHandler implements IQueryHandler<GetRequest> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, requestId }: GetRequest) {
    const row = await getRequest(this.runtime.db, tenantId, requestId);
    if (!row) throw notFound('not_found', `no request ${requestId}`);
    return row;
  }
}

@QueryHandler(GetRun)
export class GetRunHandler implements IQueryHandler<GetRun> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, runId, agentId, limit }: GetRun) {
    const runs = await getRuns(this.runtime.db, tenantId, runId, agentId);
    if (runs.length === 0) throw notFound('not_found', `no run ${runId}`);
    if (runs.length > 1) {
      throw conflict(
        'ambiguous_run',
        `run ${runId} was used by agents ${runs.map((r) => r.agent_id).join(', ')}: name one with ?agentId=`,
        'agentId',
      );
    }
    const [run] = runs;
    const timeline = await runTimeline(this.runtime.db, { tenantId, agentId: run.agent_id, runId }, limit);
    return { ...run, timeline };
  }
}

@QueryHandler(ListRuns)
export class ListRunsHandler implements IQueryHandler<ListRuns> {
  constructor(private readonly runtime: ServiceRuntime) {}
  execute({ tenantId, filter }: ListRuns) {
    return listRuns(this.runtime.db, tenantId, filter);
  }
}

@QueryHandler(ListProjections)
export class ListProjectionsHandler implements IQueryHandler<ListProjections> {
  constructor(@Inject(TraceProjections) private readonly projections: TraceProjections) {}
  execute() {
    return this.projections.states();
  }
}

@CommandHandler(RebuildProjection)
export class RebuildProjectionHandler implements ICommandHandler<RebuildProjection> {
  constructor(@Inject(TraceProjections) private readonly projections: TraceProjections) {}
  async execute({ name }: RebuildProjection) {
    this.projections.rebuild(name);
    return { name, status: 'rebuilding' };
  }
}

export const traceHandlers = [
  GetRequestHandler,
  GetRunHandler,
  ListRunsHandler,
  ListProjectionsHandler,
  RebuildProjectionHandler,
];
