import {
  ActionKind,
  ApprovalRef,
  DataClass,
  Envelope,
  GateDecided,
  GateRequested,
  GateDecidedSchema,
  is,
  StandingApprovalExhaustedSchema,
  StandingApprovalGrantedSchema,
  StandingApprovalRevokedSchema,
  StepCompletedSchema,
  Verdict,
} from '@warden/contracts';
import { HistoryEntry } from './bundles/api';
import { StandingEntry } from './gate-view';

/**
 * What the gate knows across runs, folded from gate.outcomes, gate.decisions and approval.events
 * on every instance (a table): which idempotency keys a step completed, the agents' recent allowed
 * steps (for "per agent" temporal rules), and standing approvals with their uses.
 *
 * It is eventually consistent with the processor that reads it: a decision made on another
 * partition a moment ago may not be in it yet. Within one run the processor's own state is exact
 * (see `admit`, which merges the run's history in). The maps are owned by this fold and updated in
 * place (they grow with traffic; copying them per event would be quadratic); each event yields a
 * new outer object, so the table sees every applied event as a change.
 */
export interface GateActivity {
  /** `<tenant>/<idempotency key>` -> the request id whose StepCompleted completed it. */
  readonly completions: Map<string, string>;
  /** `<tenant>/<agent>` -> allowed steps within the horizon, oldest first. */
  readonly agentHistory: Map<string, HistoryEntry[]>;
  readonly standing: Map<string, StandingEntry>;
  /** How far back agent history reaches, ms (relative to the newest decision of that agent). */
  readonly horizonMs: number;
}

/** At most this many entries per agent are kept, whatever the horizon. */
export const AGENT_HISTORY_CAP = 1000;

export const emptyGateActivity = (horizonMs: number): GateActivity => ({
  completions: new Map(),
  agentHistory: new Map(),
  standing: new Map(),
  horizonMs,
});

export const completionKey = (tenantId: string, idempotencyKey: string) => `${tenantId}/${idempotencyKey}`;
export const agentKey = (tenantId: string, agentId: string) => `${tenantId}/${agentId}`;

const lower = (e: Record<number, string>, v: number) => (e[v] ?? '').toLowerCase();

/** How an allowed decision appears in `run.history` and `agentHistory.history`. */
export function historyEntry(d: GateDecided, r: GateRequested): HistoryEntry {
  return {
    requestId: d.requestId,
    actionKind: lower(ActionKind, r.actionKind),
    tool: r.tool,
    action: r.action,
    atMs: d.decidedAtMs,
    dataClasses: r.dataClasses.map((c) => lower(DataClass, c)),
    verdict: 'allow',
  };
}

export function evolveGateActivity(state: GateActivity, event: Envelope): GateActivity {
  if (is(event, StepCompletedSchema)) {
    const e = event.data;
    const key = completionKey(e.tenantId, e.idempotencyKey);
    if (!e.idempotencyKey || state.completions.has(key)) return state;
    state.completions.set(key, e.requestId);
    return { ...state };
  }
  if (is(event, GateDecidedSchema)) {
    const d = event.data;
    if (d.verdict !== Verdict.ALLOW || !d.request) return state;
    const key = agentKey(d.tenantId, d.agentId);
    const entries = state.agentHistory.get(key) ?? [];
    if (entries.some((h) => h.requestId === d.requestId)) return state;
    entries.push(historyEntry(d, d.request));
    entries.sort((a, b) => a.atMs - b.atMs);
    const from = d.decidedAtMs - state.horizonMs;
    let drop = 0;
    while (drop < entries.length && (entries[drop].atMs < from || entries.length - drop > AGENT_HISTORY_CAP)) drop += 1;
    state.agentHistory.set(key, entries.slice(drop));
    countStandingUse(state, d.context?.approval);
    return { ...state };
  }
  if (is(event, StandingApprovalGrantedSchema)) {
    if (state.standing.has(event.data.standingId)) return state;
    state.standing.set(event.data.standingId, { grant: event.data, revoked: false, exhausted: false, uses: 0 });
    return { ...state };
  }
  if (is(event, StandingApprovalRevokedSchema) || is(event, StandingApprovalExhaustedSchema)) {
    const current = state.standing.get(event.data.standingId);
    if (!current) return state;
    const revoked = is(event, StandingApprovalRevokedSchema);
    state.standing.set(event.data.standingId, revoked ? { ...current, revoked } : { ...current, exhausted: true });
    return { ...state };
  }
  return state;
}

function countStandingUse(state: GateActivity, approval: ApprovalRef | undefined): void {
  const id = approval?.standingApprovalId;
  const current = id ? state.standing.get(id) : undefined;
  if (id && current) state.standing.set(id, { ...current, uses: current.uses + 1 });
}

/** The agent's history merged with the run's own (exact) history, oldest first, each step once. */
export function mergeHistory(agent: readonly HistoryEntry[], run: readonly HistoryEntry[]): HistoryEntry[] {
  const seen = new Set(agent.map((h) => h.requestId));
  return [...agent, ...run.filter((h) => !seen.has(h.requestId))].sort((a, b) => a.atMs - b.atMs);
}
