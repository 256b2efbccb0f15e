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
  BudgetSettledSchema,
  Verdict,
} from '@warden/contracts';
import { HistoryEntry } from './bundles/api';
import { StandingEntry } from './gate-view';

/** The outcomes the activity counts: settlements by the budget stage, which accepted the agent's report (docs/adr/0070). */
export const COMPLETION_TYPE = BudgetSettledSchema.typeName;

/**
 * What the gate knows across runs, folded from budget.reservations (settlements), gate.decisions and approval.events
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
  /** `<tenant>/<idempotency key>` -> the request id whose completed step (its settlement) completed it. */
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
  if (is(event, BudgetSettledSchema)) {
    // A step the agent that proved its request reported completed; agents' raw reports never count.
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
    const entry = historyEntry(d, d.request);
    if (indexOf(entries, entry) >= 0) return state;
    // Kept sorted by time without re-sorting: decisions mostly arrive in order, so this appends.
    let at = entries.length;
    while (at > 0 && entries[at - 1].atMs > entry.atMs) at -= 1;
    entries.splice(at, 0, entry);
    const from = d.decidedAtMs - state.horizonMs;
    let drop = 0;
    while (drop < entries.length && (entries[drop].atMs < from || entries.length - drop > AGENT_HISTORY_CAP)) drop += 1;
    if (drop > 0) entries.splice(0, drop);
    state.agentHistory.set(key, entries);
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

/**
 * The agent's history merged with the run's own (exact) history, oldest first, each step once.
 * Both are sorted by time; usually the run's steps are already in the agent's, which is then
 * returned as it is (no copy of up to AGENT_HISTORY_CAP entries per request).
 */
export function mergeHistory(agent: readonly HistoryEntry[], run: readonly HistoryEntry[]): readonly HistoryEntry[] {
  const missing = run.filter((h) => indexOf(agent, h) < 0);
  if (missing.length === 0) return agent;
  return [...agent, ...missing].sort((a, b) => a.atMs - b.atMs);
}

/** Where `entry` (same request id and time) is in `sorted` (by time), or -1. */
function indexOf(sorted: readonly HistoryEntry[], entry: HistoryEntry): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid].atMs < entry.atMs) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < sorted.length && sorted[i].atMs === entry.atMs; i++) {
    if (sorted[i].requestId === entry.requestId) return i;
  }
  return -1;
}
