import { GateDecided, toJson, Topic, TopicName, typeRegistry } from '@warden/contracts';
import { invalid, notFound } from '@warden/kernel';
import { ServiceRuntime } from '@warden/platform';
import {
  ACTIVITY_TOPICS,
  knownBundleVersion,
  STATE_TOPICS,
  verifyDecisions,
  VerificationReport,
} from '@warden/trace-domain';
import { RequestRow, requestsProjection, RunRow, runsProjection } from '@warden/trace-read-models';
import { inPartitionOrder, inTimeOrder, readEvents, ReadEvent } from './kafka-reader';

/**
 * The gate topics a run's story is told by; all keyed by run id. The requests and outcomes of
 * record ride on the budget stage's answers, settlements and releases (docs/adr/0070).
 */
export const RUN_TOPICS: readonly TopicName[] = [Topic.budgetReservations, Topic.gateDecisions, Topic.approvalEvents];

export interface ReplayedRun {
  readonly tenantId: string;
  readonly runId: string;
  readonly source: 'kafka';
  /** Every event of the run, in time order: what happened, told by the events alone. */
  readonly events: readonly {
    readonly at: string;
    readonly topic: string;
    readonly type: string;
    readonly requestId: string;
    readonly position: string;
  }[];
  /** The run summaries (one per agent that used the run id) and requests, folded from the events by the projections' own evolve. */
  readonly runs: readonly Omit<RunRow, 'request_states'>[];
  readonly timeline: readonly RequestRow[];
  /** Records of the run that did not decode (the projections dead-lettered them). */
  readonly skipped: number;
}

/** The topics whose events change what decisions are made from: the registry, policy, budgets, kill switches. */
export const CHANGE_TOPICS: readonly TopicName[] = [
  Topic.registryEvents,
  Topic.policyEvents,
  Topic.budgetEvents,
  Topic.killswitchEvents,
];

export interface Change {
  readonly at: string;
  readonly topic: string;
  readonly type: string;
  readonly key: string;
  readonly position: string;
  readonly data: unknown;
}

/**
 * Replay without the orchestrator or Postgres: a run's timeline rebuilt from the topics alone,
 * and its decisions re-evaluated from the state their versions name (docs/adr/0062).
 */
export class ReplayService {
  constructor(private readonly runtime: ServiceRuntime) {}

  /** The run's events on the gate topics (records keyed by the run id, of the tenant). */
  private async runEvents(tenantId: string, runId: string): Promise<{ events: ReadEvent[]; skipped: number }> {
    const { events, skipped } = await readEvents(this.runtime, RUN_TOPICS, (_topic, record) => record.key === runId);
    const own = events.filter((e) => tenantOf(e) === tenantId);
    if (own.length === 0) throw notFound('not_found', `no run ${runId} in Kafka`);
    return { events: inPartitionOrder(own), skipped };
  }

  async timeline(tenantId: string, runId: string): Promise<ReplayedRun> {
    const { events, skipped } = await this.runEvents(tenantId, runId);
    const requests = new Map<string, RequestRow | null>();
    const runs = new Map<string, RunRow | null>();
    for (const { event } of events) {
      if (requestsProjection.handles.includes(event.type)) {
        const id = requestsProjection.rowId(event);
        if (id !== undefined) requests.set(id, requestsProjection.evolve(requests.get(id) ?? null, event));
      }
      if (runsProjection.handles.includes(event.type)) {
        const id = runsProjection.rowId(event);
        if (id !== undefined) runs.set(id, runsProjection.evolve(runs.get(id) ?? null, event));
      }
    }
    const timeline = [...requests.values()]
      .filter((r): r is RequestRow => r !== null)
      .sort((a, b) => order(a.requested_at, b.requested_at) || a.id.localeCompare(b.id));
    return {
      tenantId,
      runId,
      source: 'kafka',
      events: inTimeOrder(events).map((e) => ({
        at: new Date(e.event.time).toISOString(),
        topic: e.topic,
        type: e.event.type,
        requestId: requestIdOf(e),
        position: `${e.topic}:${e.partition}:${e.offset}`,
      })),
      runs: [...runs.values()]
        .filter((r): r is RunRow => r !== null)
        .map(({ request_states: _states, ...summary }) => summary),
      timeline,
      skipped,
    };
  }

  /**
   * What changed around a run, from Kafka: the registry, policy, budget and kill-switch events of
   * the tenant (or of no tenant: global switches, signing keys) with event times in the range.
   */
  async changes(tenantId: string, fromMs: number, toMs: number): Promise<Change[]> {
    const { events } = await readEvents(this.runtime, CHANGE_TOPICS, () => true);
    return inTimeOrder(events)
      .filter((e) => e.event.time >= fromMs && e.event.time <= toMs)
      .filter((e) => [tenantId, ''].includes(tenantOf(e)))
      .map((e) => {
        const schema = typeRegistry.getMessage(e.event.type)!;
        return {
          at: new Date(e.event.time).toISOString(),
          topic: e.topic,
          type: e.event.type,
          key: e.event.key,
          position: `${e.topic}:${e.partition}:${e.offset}`,
          data: toJson(schema, e.event.data, { registry: typeRegistry }),
        };
      });
  }

  /** Re-evaluates the run's recorded decisions (or, with `whatIf`, with that bundle version). */
  async verify(tenantId: string, runId: string, whatIf?: string): Promise<VerificationReport> {
    // The run's records, and the tenant's activity (every run's decisions, outcomes, approvals).
    const read = await readEvents(
      this.runtime,
      RUN_TOPICS,
      (topic, record) => record.key === runId || ACTIVITY_TOPICS.includes(topic),
    );
    const tenants = read.events.filter((e) => tenantOf(e) === tenantId);
    const events = inPartitionOrder(tenants.filter((e) => e.event.key === runId));
    if (events.length === 0) throw notFound('not_found', `no run ${runId} in Kafka`);
    const activity = inTimeOrder(tenants.filter((e) => ACTIVITY_TOPICS.includes(e.topic))).map((e) => e.event);
    const decisions = events
      .filter((e) => e.topic === Topic.gateDecisions)
      .map((e) => ({ decision: e.event.data as GateDecided, source: `${e.topic}:${e.partition}:${e.offset}` }));
    const state = await readEvents(
      this.runtime,
      STATE_TOPICS.map((s) => s.topic),
      () => true,
    );
    const log = new Map<TopicName, ReadEvent[]>();
    for (const { topic } of STATE_TOPICS) log.set(topic, inTimeOrder(state.events.filter((e) => e.topic === topic)));
    const policyEvents = (log.get(Topic.policyEvents) ?? []).map((e) => e.event);
    if (whatIf !== undefined && !knownBundleVersion(policyEvents, tenantId, whatIf)) {
      throw invalid('unknown_bundle', `tenant ${tenantId} has no policy bundle version ${whatIf}`, 'bundle');
    }
    const exactTopics = new Set([...state.partitions].filter(([, n]) => n === 1).map(([t]) => t));
    return verifyDecisions({ tenantId, runId }, decisions, log, { whatIf, exactTopics, activity });
  }
}

function tenantOf({ event }: ReadEvent): string {
  const data = event.data as {
    tenantId?: string;
    request?: { tenantId?: string };
    scope?: { tenantId?: string };
  };
  return data.tenantId || data.request?.tenantId || data.scope?.tenantId || event.tenantId;
}

function requestIdOf({ event }: ReadEvent): string {
  const data = event.data as { requestId?: string; request?: { requestId?: string } };
  return data.requestId || data.request?.requestId || '';
}

function order(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return Date.parse(a) - Date.parse(b);
}
