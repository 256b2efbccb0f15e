import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { conflict, notFound } from '@warden/kernel';
import { rowView, rowViews, ServiceRuntime } from '@warden/platform';
import { HoldCommand, RequestQuery, RunFilter } from '@warden/trace-domain';
import {
  agentSummaries,
  auditChainRows,
  auditRowsOfRun,
  getRequest,
  getRuns,
  heldRuns,
  listHolds,
  listRequests,
  listRuns,
  requestsOfRun,
  runTimeline,
  tenantSummary,
} from '@warden/trace-read-models';
import { verifyAudit, VerifySource } from './audit/verify.service';
import { HOLDS, HoldsGateway } from './holds';
import { TraceProjections } from './projections';
import { ReplayedRun, ReplayService } from './replay/replay.service';
import { TraceWorkers } from './workers';

/** Bus messages: the read-model queries, replay, audit verification, holds and operations. */
export class GetRequest {
  constructor(
    readonly tenantId: string,
    readonly requestId: string,
  ) {}
}
export class ListRequests {
  constructor(
    readonly tenantId: string,
    readonly query: RequestQuery,
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
export class Summarise {
  constructor(
    readonly tenantId: string,
    readonly by: 'agent' | 'tenant',
    readonly query: RequestQuery,
  ) {}
}
export class ExportRun {
  constructor(
    readonly tenantId: string,
    readonly runId: string,
    readonly withReplay: boolean,
  ) {}
}
export class ReplayRun {
  constructor(
    readonly tenantId: string,
    readonly runId: string,
  ) {}
}
export class VerifyRun {
  constructor(
    readonly tenantId: string,
    readonly runId: string,
    readonly whatIf: string | undefined,
  ) {}
}
export class VerifyAudit {
  constructor(
    readonly tenantId: string,
    readonly source: VerifySource,
  ) {}
}
export class ListAudit {
  constructor(
    readonly tenantId: string,
    readonly fromSeq: number,
    readonly limit: number,
  ) {}
}
export class HandleHoldCommand {
  constructor(readonly command: HoldCommand) {}
}
export class ListHolds {
  constructor(readonly tenantId: string) {}
}
export class RunRetention {
  constructor(readonly days: number | undefined) {}
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
    return rowView(row);
  }
}

@QueryHandler(ListRequests)
export class ListRequestsHandler implements IQueryHandler<ListRequests> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, query }: ListRequests) {
    return rowViews(await listRequests(this.runtime.db, tenantId, query));
  }
}

/** The run of the tenant with this id, or 409 when several agents used it and none was named. */
async function oneRun(runtime: ServiceRuntime, tenantId: string, runId: string, agentId: string | undefined) {
  const runs = await getRuns(runtime.db, tenantId, runId, agentId);
  if (runs.length === 0) throw notFound('not_found', `no run ${runId}`);
  if (runs.length > 1) {
    throw conflict(
      'ambiguous_run',
      `run ${runId} was used by agents ${runs.map((r) => r.agent_id).join(', ')}; pass agentId`,
      'agentId',
    );
  }
  return runs[0];
}

@QueryHandler(GetRun)
export class GetRunHandler implements IQueryHandler<GetRun> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, runId, agentId, limit }: GetRun) {
    const run = await oneRun(this.runtime, tenantId, runId, agentId);
    const timeline = await runTimeline(this.runtime.db, { tenantId, agentId: run.agent_id, runId: run.run_id }, limit);
    const holds = await heldRuns(this.runtime.db, tenantId, { runId, agentId: run.agent_id });
    return { ...rowView(run), held: holds.length > 0, holds: rowViews(holds), timeline: rowViews(timeline) };
  }
}

@QueryHandler(ListRuns)
export class ListRunsHandler implements IQueryHandler<ListRuns> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, filter }: ListRuns) {
    return rowViews(await listRuns(this.runtime.db, tenantId, filter));
  }
}

@QueryHandler(Summarise)
export class SummariseHandler implements IQueryHandler<Summarise> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, by, query }: Summarise) {
    if (by === 'agent') return rowViews(await agentSummaries(this.runtime.db, tenantId, query));
    return { tenantId, ...rowView(await tenantSummary(this.runtime.db, tenantId, query)) };
  }
}

@QueryHandler(ExportRun)
export class ExportRunHandler implements IQueryHandler<ExportRun> {
  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly replay: ReplayService,
  ) {}
  async execute({ tenantId, runId, withReplay }: ExportRun) {
    const db = this.runtime.db;
    const runs = await getRuns(db, tenantId, runId);
    if (runs.length === 0) throw notFound('not_found', `no run ${runId}`);
    const audit = await auditRowsOfRun(db, tenantId, runId);
    return {
      format: 'warden.trace.incident/v1',
      tenantId,
      runId,
      runs: rowViews(runs),
      holds: rowViews(await heldRuns(db, tenantId, { runId })),
      requests: rowViews(await requestsOfRun(db, tenantId, runId)),
      audit: {
        records: rowViews(audit),
        chain: await verifyAudit(this.runtime, tenantId, 'postgres').then((v) => v.postgres),
      },
      replay: withReplay
        ? {
            timeline: replayedView(await this.replay.timeline(tenantId, runId)),
            verification: await this.replay.verify(tenantId, runId),
            changes: await this.replay.changes(tenantId, ...changeWindow(runs)),
          }
        : undefined,
    };
  }
}

/** A replayed run as the API answers it: its runs and timeline rows in camelCase. */
function replayedView(replayed: ReplayedRun) {
  return { ...replayed, runs: rowViews(replayed.runs), timeline: rowViews(replayed.timeline) };
}

/** What changed from a day before the run started until it was last active. */
function changeWindow(runs: readonly { first_seen_at: Date | null; last_seen_at: Date | null }[]): [number, number] {
  const first = Math.min(...runs.map((r) => r.first_seen_at?.getTime() ?? Number.MAX_SAFE_INTEGER));
  const last = Math.max(...runs.map((r) => r.last_seen_at?.getTime() ?? 0));
  return [first - 86_400_000, last];
}

@QueryHandler(ReplayRun)
export class ReplayRunHandler implements IQueryHandler<ReplayRun> {
  constructor(private readonly replay: ReplayService) {}
  async execute({ tenantId, runId }: ReplayRun) {
    return replayedView(await this.replay.timeline(tenantId, runId));
  }
}

@QueryHandler(VerifyRun)
export class VerifyRunHandler implements IQueryHandler<VerifyRun> {
  constructor(private readonly replay: ReplayService) {}
  execute({ tenantId, runId, whatIf }: VerifyRun) {
    return this.replay.verify(tenantId, runId, whatIf);
  }
}

@QueryHandler(VerifyAudit)
export class VerifyAuditHandler implements IQueryHandler<VerifyAudit> {
  constructor(private readonly runtime: ServiceRuntime) {}
  execute({ tenantId, source }: VerifyAudit) {
    return verifyAudit(this.runtime, tenantId, source);
  }
}

@QueryHandler(ListAudit)
export class ListAuditHandler implements IQueryHandler<ListAudit> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId, fromSeq, limit }: ListAudit) {
    return rowViews(await auditChainRows(this.runtime.db, tenantId, { fromSeq, limit }));
  }
}

@CommandHandler(HandleHoldCommand)
export class HandleHoldCommandHandler implements ICommandHandler<HandleHoldCommand> {
  constructor(@Inject(HOLDS) private readonly holds: HoldsGateway) {}
  async execute({ command }: HandleHoldCommand) {
    const { events } = await this.holds.handle(command.tenantId, command, {
      now: command.now,
      eventId: () => randomUUID(),
    });
    return { holdId: command.holdId, status: command.type === 'PlaceHold' ? 'placed' : 'released', events };
  }
}

@QueryHandler(ListHolds)
export class ListHoldsHandler implements IQueryHandler<ListHolds> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ tenantId }: ListHolds) {
    return {
      heldRuns: rowViews(await heldRuns(this.runtime.db, tenantId)),
      holds: rowViews(await listHolds(this.runtime.db, tenantId)),
    };
  }
}

@CommandHandler(RunRetention)
export class RunRetentionHandler implements ICommandHandler<RunRetention> {
  constructor(@Inject(TraceWorkers) private readonly workers: TraceWorkers) {}
  execute({ days }: RunRetention) {
    return this.workers.retention.run(Date.now(), days);
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
  ListRequestsHandler,
  GetRunHandler,
  ListRunsHandler,
  SummariseHandler,
  ExportRunHandler,
  ReplayRunHandler,
  VerifyRunHandler,
  VerifyAuditHandler,
  ListAuditHandler,
  HandleHoldCommandHandler,
  ListHoldsHandler,
  RunRetentionHandler,
  ListProjectionsHandler,
  RebuildProjectionHandler,
];
