import {
  BudgetReleased,
  BudgetReleasedSchema,
  BudgetSettled,
  BudgetSettledSchema,
  RunHalted,
  RunHaltedSchema,
  GateDecided,
  GateDecidedSchema,
  Topic,
  Envelope,
} from '@warden/contracts';
import { assertNever } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';
import { supersedes, verdictName } from '@warden/trace-domain';
import { earliest, iso, latest, ms, quantity, storable } from './columns';

/** What the run summary remembers of one request: its kept verdict, when, and what it used. */
export interface RequestState {
  readonly verdict?: string;
  /** Latest decision time applied to the request (epoch ms); it only grows. */
  readonly at?: number;
  readonly tokens?: number;
  readonly costMicros?: number;
}

/** The counters a verdict adds to. */
export const VERDICT_COUNTERS = {
  allow: 'allowed',
  deny: 'denied',
  pending_approval: 'pending',
  expired: 'expired',
  already_completed: 'already_completed',
} as const;
type Counter = (typeof VERDICT_COUNTERS)[keyof typeof VERDICT_COUNTERS];

/**
 * trace.runs: one row per run of an agent (run ids are scoped by tenant and agent, like kill
 * switch scopes). Counters count requests, not events: a request counts once under the verdict
 * it keeps (final over pending_approval; a duplicate decision counts nothing), which is why the
 * row remembers each request's state in `request_states`. Every column is event-derived and
 * independent of how the input topics interleave, so a rebuild reproduces the row exactly.
 */
export interface RunRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly first_seen_at: string | null;
  readonly last_seen_at: string | null;
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  readonly pending: number;
  readonly expired: number;
  readonly already_completed: number;
  readonly tokens: number;
  readonly cost_micros: number;
  /** The verdict of the request decided last (latest decision time, then highest request id). */
  readonly last_verdict: string | null;
  readonly last_request_id: string | null;
  readonly last_decided_at: string | null;
  /** A kill switch halted the run (RunHalted on killswitch.events). */
  readonly halted: boolean;
  readonly request_states: Readonly<Record<string, RequestState>>;
  readonly [column: string]: unknown;
}

/** Decisions, and what steps used as the budget stage settled or released it (the agent's accepted report). */
type Handled = GateDecided | BudgetSettled | BudgetReleased;

/** The row id of a run: tenant, agent and run id, unambiguously joined. */
export const runKey = (tenantId: string, agentId: string, runId: string) =>
  storable(JSON.stringify([tenantId, agentId, runId]));

export const runsProjection: ProjectionDefinition<RunRow> = {
  name: 'runs',
  table: 'trace.runs',
  topics: [Topic.gateDecisions, Topic.budgetReservations, Topic.killswitchEvents],
  handles: [GateDecidedSchema, BudgetSettledSchema, BudgetReleasedSchema, RunHaltedSchema].map((s) => s.typeName),
  rowId(event) {
    const data = event.data as Handled | RunHalted;
    if (data.$typeName === 'warden.killswitch.v1.RunHalted') {
      return data.runId ? runKey(data.tenantId, data.agentId, data.runId) : undefined;
    }
    if (!data.runId || !data.requestId) return undefined;
    return runKey(data.tenantId, data.agentId, data.runId);
  },
  // A rebuild owns its rows: it updates each in place instead of copying the run's request states on every event.
  evolve: (row, event) => update(row && { ...row }, event, true),
  evolveInPlace: (row, event) => update(row, event, false),
};

type Draft = { -readonly [K in keyof RunRow]: RunRow[K] };

/** Applies the event to `row`, which the caller owns; `shared`: its request states are not, copy them before a change. */
function update(row: RunRow | null, event: Envelope, shared: boolean): RunRow {
  const data = event.data as Handled | RunHalted;
  const next = (row ?? blank(data)) as Draft;
  if (data.$typeName === 'warden.killswitch.v1.RunHalted') {
    next.halted = true;
    return next;
  }
  const at = iso(event.time);
  next.first_seen_at = earliest(next.first_seen_at, at);
  next.last_seen_at = latest(next.last_seen_at, at);
  const requestId = storable(data.requestId);
  const before = Object.hasOwn(next.request_states, requestId) ? next.request_states[requestId] : undefined;
  const after = apply(before ?? {}, data);
  if (after !== before) {
    if (shared && row !== null) next.request_states = { ...next.request_states };
    recount(next, requestId, before, after);
  }
  return next;
}

function blank(data: Handled | RunHalted): RunRow {
  return storable({
    id: runKey(data.tenantId, data.agentId, data.runId),
    tenant_id: data.tenantId,
    agent_id: data.agentId,
    run_id: data.runId,
    first_seen_at: null,
    last_seen_at: null,
    requests: 0,
    allowed: 0,
    denied: 0,
    pending: 0,
    expired: 0,
    already_completed: 0,
    tokens: 0,
    cost_micros: 0,
    last_verdict: null,
    last_request_id: null,
    last_decided_at: null,
    halted: false,
    request_states: {},
  });
}

function apply(state: RequestState, data: Handled): RequestState {
  switch (data.$typeName) {
    case 'warden.gate.v1.GateDecided': {
      const verdict = verdictName(data.verdict);
      if (!supersedes(state.verdict, verdict)) return state;
      return { ...state, verdict, at: Math.max(state.at ?? 0, ms(iso(data.decidedAtMs)) ?? 0) };
    }
    case 'warden.budget.v1.BudgetSettled':
      if (state.tokens !== undefined) return state;
      return { ...state, tokens: quantity(data.actualTokens), costMicros: quantity(data.actualCost?.micros) };
    case 'warden.budget.v1.BudgetReleased':
      // Only a failed step's release reports use; a deny or expiry used nothing.
      if (state.tokens !== undefined || !data.outcome) return state;
      return { ...state, tokens: quantity(data.chargedTokens), costMicros: quantity(data.chargedCost?.micros) };
    default:
      return assertNever(data, 'event');
  }
}

/** Moves one request's contribution from `before` to `after`; counters and sums stay exact in any order. */
function recount(row: Draft, requestId: string, before: RequestState | undefined, after: RequestState): void {
  const decidedLast = after.at !== undefined && decidedLater(row, requestId, after.at);
  if (before === undefined) row.requests = row.requests + 1;
  if (before?.verdict !== after.verdict) {
    add(row, before?.verdict, -1);
    add(row, after.verdict, 1);
  }
  // The change first, then the sum: a request seen again (delta 0) never moves a total past 2^53,
  // where (total + x) - x would round.
  row.tokens = row.tokens + ((after.tokens ?? 0) - (before?.tokens ?? 0));
  row.cost_micros = row.cost_micros + ((after.costMicros ?? 0) - (before?.costMicros ?? 0));
  const states = row.request_states as Record<string, RequestState>;
  // A request id may be `__proto__`: an own property, as JSON.parse and spreads make it, not the prototype.
  if (requestId === '__proto__')
    Object.defineProperty(states, requestId, { value: after, enumerable: true, writable: true, configurable: true });
  else states[requestId] = after;
  if (decidedLast) {
    row.last_verdict = after.verdict ?? null;
    row.last_request_id = requestId;
    row.last_decided_at = iso(after.at!);
  }
}

function add(row: Draft, verdict: string | undefined, n: number): void {
  const counter = counterOf(verdict);
  if (counter) row[counter] = row[counter] + n;
}

function counterOf(verdict: string | undefined): Counter | undefined {
  return verdict !== undefined && Object.hasOwn(VERDICT_COUNTERS, verdict)
    ? VERDICT_COUNTERS[verdict as keyof typeof VERDICT_COUNTERS]
    : undefined;
}

function decidedLater(row: RunRow, requestId: string, at: number): boolean {
  if (row.last_request_id === null) return true;
  const lastAt = ms(row.last_decided_at) ?? 0;
  return at > lastAt || (at === lastAt && requestId >= row.last_request_id);
}
