import {
  ActionKind,
  ApprovalDenied,
  ApprovalDeniedSchema,
  ApprovalExpired,
  ApprovalExpiredSchema,
  ApprovalGranted,
  ApprovalGrantedSchema,
  ApprovalTaskOpened,
  ApprovalTaskOpenedSchema,
  BudgetReleased,
  BudgetReleasedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetSettled,
  BudgetSettledSchema,
  Envelope,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  RiskClass,
  StepCompleted,
  StepCompletedSchema,
  StepFailed,
  StepFailedSchema,
  Topic,
} from '@warden/contracts';
import { assertNever } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';
import { supersedes, verdictName } from '@warden/trace-domain';
import { iso, Json, latest, messageJson, ms, quantity, storable } from './columns';

/** Where a row's copy of the gate request came from, most authoritative first. */
export const REQUEST_SOURCES = [
  Topic.gateRequests,
  Topic.budgetReservations,
  Topic.gateDecisions,
  Topic.approvalEvents,
];
export type RequestSource = (typeof REQUEST_SOURCES)[number];
export type ReservationStatus = 'reserved' | 'refused' | 'settled' | 'released';
export type ApprovalStatus = 'open' | 'granted' | 'denied' | 'expired';

/**
 * trace.requests: one row per gate request id with its whole chain: the request, the budget
 * reservation and its settlement, the decision, the approval and the outcome.
 *
 * Every column is derived from events only (no wall clock), and each group of columns has one
 * source topic, whose events for a request all sit in one partition (they are keyed by run id).
 * So a row does not depend on how the topics interleave: a rebuild reproduces it exactly.
 * The request columns are the exception, as several topics carry a copy of the request: the
 * copy from the most authoritative source wins (`request_source`), whatever arrives first.
 */
export interface RequestRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly step_id: string | null;
  readonly idempotency_key: string | null;
  readonly attempt: number | null;
  readonly action_kind: string | null;
  readonly tool: string | null;
  readonly action: string | null;
  readonly requested_at: string | null;
  readonly deadline_at: string | null;
  readonly model: string | null;
  readonly memory_store: string | null;
  readonly delegate_to_agent_id: string | null;
  readonly parent_step_id: string | null;
  /** The agent's W3C trace context when it asked (the GateRequested envelope's `traceparent`). */
  readonly traceparent: string | null;
  readonly request: Json | null;
  readonly request_source: RequestSource | null;
  readonly reservation_id: string | null;
  readonly reservation: Json | null;
  readonly reservation_status: ReservationStatus | null;
  readonly settlement: Json | null;
  readonly decision: Json | null;
  readonly verdict: string | null;
  readonly reason: string | null;
  readonly decided_at: string | null;
  readonly decision_latency_ms: number | null;
  readonly policy_bundle_version: string | null;
  readonly risk_score: number | null;
  readonly risk_class: string | null;
  readonly decisions_seen: number;
  readonly approval: Json | null;
  readonly approval_status: ApprovalStatus | null;
  readonly outcome: Json | null;
  readonly outcome_status: 'completed' | 'failed' | null;
  readonly actual_tokens: number | null;
  readonly cost_micros: number | null;
  /** Time of the latest event applied (its `ce_time`), not of the write. */
  readonly updated_at: string | null;
  readonly [column: string]: unknown;
}

type Handled =
  | GateRequested
  | BudgetReserved
  | BudgetReservationRefused
  | BudgetSettled
  | BudgetReleased
  | GateDecided
  | ApprovalTaskOpened
  | ApprovalGranted
  | ApprovalDenied
  | ApprovalExpired
  | StepCompleted
  | StepFailed;

const HANDLED = [
  GateRequestedSchema,
  BudgetReservedSchema,
  BudgetReservationRefusedSchema,
  BudgetSettledSchema,
  BudgetReleasedSchema,
  GateDecidedSchema,
  ApprovalTaskOpenedSchema,
  ApprovalGrantedSchema,
  ApprovalDeniedSchema,
  ApprovalExpiredSchema,
  StepCompletedSchema,
  StepFailedSchema,
];

const INT4_MAX = 2_147_483_647;

export const requestsProjection: ProjectionDefinition<RequestRow> = {
  name: 'requests',
  table: 'trace.requests',
  topics: [Topic.gateRequests, Topic.budgetReservations, Topic.gateDecisions, Topic.approvalEvents, Topic.gateOutcomes],
  handles: HANDLED.map((s) => s.typeName),
  rowId: (event) => requestIdOf(event.data as Handled) || undefined,
  evolve(row, event) {
    const data = event.data as Handled;
    const current = row ?? blank(requestIdOf(data), event);
    const next = withTraceparent(apply(current, data), event);
    return storableColumns({ ...next, updated_at: latest(current.updated_at, iso(event.time)) });
  },
};

function requestIdOf(data: Handled): string {
  switch (data.$typeName) {
    case 'warden.budget.v1.BudgetReserved':
    case 'warden.budget.v1.BudgetReservationRefused':
      return storable(data.request?.requestId ?? '');
    default:
      return storable(data.requestId);
  }
}

function apply(row: RequestRow, data: Handled): RequestRow {
  switch (data.$typeName) {
    case 'warden.gate.v1.GateRequested':
      return withRequest(row, data, Topic.gateRequests);
    case 'warden.budget.v1.BudgetReserved':
      return reservation(
        withRequest(row, data.request, Topic.budgetReservations),
        data.reservationId,
        messageJson(BudgetReservedSchema, { ...data, request: undefined }),
        'reserved',
      );
    case 'warden.budget.v1.BudgetReservationRefused':
      return reservation(
        withRequest(row, data.request, Topic.budgetReservations),
        data.reservationId,
        messageJson(BudgetReservationRefusedSchema, { ...data, request: undefined }),
        'refused',
      );
    case 'warden.budget.v1.BudgetSettled':
      return settlement(row, data.reservationId, messageJson(BudgetSettledSchema, data), 'settled');
    case 'warden.budget.v1.BudgetReleased':
      return settlement(row, data.reservationId, messageJson(BudgetReleasedSchema, data), 'released');
    case 'warden.gate.v1.GateDecided':
      return decision(withRequest(row, data.request, Topic.gateDecisions), data);
    case 'warden.approval.v1.ApprovalTaskOpened':
      return approval(
        withRequest(row, data.request, Topic.approvalEvents),
        'open',
        messageJson(ApprovalTaskOpenedSchema, { ...data, request: undefined }),
      );
    case 'warden.approval.v1.ApprovalGranted':
      return approval(row, 'granted', messageJson(ApprovalGrantedSchema, data));
    case 'warden.approval.v1.ApprovalDenied':
      return approval(row, 'denied', messageJson(ApprovalDeniedSchema, data));
    case 'warden.approval.v1.ApprovalExpired':
      return approval(row, 'expired', messageJson(ApprovalExpiredSchema, data));
    case 'warden.gate.v1.StepCompleted':
      return outcome(row, 'completed', data, messageJson(StepCompletedSchema, data));
    case 'warden.gate.v1.StepFailed':
      return outcome(row, 'failed', data, messageJson(StepFailedSchema, data));
    default:
      return assertNever(data, 'event');
  }
}

/** A row for a request no event has described yet: identified by the envelope's extensions. */
function blank(id: string, event: Envelope): RequestRow {
  return {
    id,
    tenant_id: event.tenantId,
    agent_id: event.agentId,
    run_id: event.runId || event.key,
    step_id: null,
    idempotency_key: null,
    attempt: null,
    action_kind: null,
    tool: null,
    action: null,
    requested_at: null,
    deadline_at: null,
    model: null,
    memory_store: null,
    delegate_to_agent_id: null,
    parent_step_id: null,
    traceparent: null,
    request: null,
    request_source: null,
    reservation_id: null,
    reservation: null,
    reservation_status: null,
    settlement: null,
    decision: null,
    verdict: null,
    reason: null,
    decided_at: null,
    decision_latency_ms: null,
    policy_bundle_version: null,
    risk_score: null,
    risk_class: null,
    decisions_seen: 0,
    approval: null,
    approval_status: null,
    outcome: null,
    outcome_status: null,
    actual_tokens: null,
    cost_micros: null,
    updated_at: null,
  };
}

function withRequest(row: RequestRow, request: GateRequested | undefined, source: RequestSource): RequestRow {
  if (!request) return row;
  if (row.request_source !== null && REQUEST_SOURCES.indexOf(row.request_source) <= REQUEST_SOURCES.indexOf(source)) {
    return row;
  }
  return withLatency({
    ...row,
    tenant_id: request.tenantId,
    agent_id: request.agentId,
    run_id: request.runId,
    step_id: request.stepId,
    idempotency_key: request.idempotencyKey,
    attempt: Math.min(request.attempt, INT4_MAX),
    action_kind: (ActionKind[request.actionKind] ?? `unknown_${request.actionKind}`).toLowerCase(),
    tool: request.tool,
    action: request.action,
    requested_at: iso(request.requestedAtMs),
    deadline_at: iso(request.deadlineMs),
    model: request.model || null,
    memory_store: request.memoryStore || null,
    delegate_to_agent_id: request.delegateToAgentId || null,
    parent_step_id: request.parentStepId || null,
    request: messageJson(GateRequestedSchema, request),
    request_source: source,
  });
}

/** The budget stage's answer; the first one recorded stays. */
function reservation(row: RequestRow, id: string, json: Json, status: 'reserved' | 'refused'): RequestRow {
  return {
    ...row,
    reservation_id: row.reservation_id ?? id,
    reservation: row.reservation ?? json,
    reservation_status: row.reservation_status ?? status,
  };
}

/** Settled or released: the reservation's end, which no later reservation event undoes. */
function settlement(row: RequestRow, id: string, json: Json, status: 'settled' | 'released'): RequestRow {
  if (row.settlement) return row;
  return { ...row, reservation_id: row.reservation_id ?? id, settlement: json, reservation_status: status };
}

function decision(row: RequestRow, d: GateDecided): RequestRow {
  const verdict = verdictName(d.verdict);
  const seen = { ...row, decisions_seen: row.decisions_seen + 1 };
  if (!supersedes(row.verdict, verdict)) return seen;
  return withLatency({
    ...seen,
    decision: messageJson(GateDecidedSchema, { ...d, request: undefined }),
    verdict,
    reason: d.reason,
    decided_at: iso(d.decidedAtMs),
    policy_bundle_version: d.context?.versions?.policyBundleVersion || null,
    risk_score: d.context ? Math.min(d.context.riskScore, INT4_MAX) : null,
    risk_class: d.context ? (RiskClass[d.context.riskClass] ?? `unknown_${d.context.riskClass}`).toLowerCase() : null,
  });
}

/** The agent's trace context comes from its own GateRequested only (other events carry Warden's spans). */
function withTraceparent(row: RequestRow, event: Envelope): RequestRow {
  if (event.type !== GateRequestedSchema.typeName || !event.traceparent) return row;
  return { ...row, traceparent: event.traceparent };
}

/** The task as opened, then its first resolution; a resolution is never reopened. */
function approval(row: RequestRow, status: ApprovalStatus, json: Json): RequestRow {
  const recorded = row.approval ?? {};
  if (status === 'open') {
    if (recorded.opened) return row;
    return { ...row, approval: { ...recorded, opened: json }, approval_status: row.approval_status ?? 'open' };
  }
  if (row.approval_status !== null && row.approval_status !== 'open') return row;
  return { ...row, approval: { ...recorded, [status]: json }, approval_status: status };
}

/** What the agent reported; the first report stays. */
function outcome(row: RequestRow, status: 'completed' | 'failed', o: StepCompleted | StepFailed, json: Json) {
  if (row.outcome) return row;
  return {
    ...row,
    outcome: json,
    outcome_status: status,
    actual_tokens: quantity(o.actualTokens),
    cost_micros: quantity(o.actualCost?.micros),
  };
}

/**
 * NUL, which Postgres refuses, replaced in the text columns. The JSON columns are left to the
 * projection runner, which replaces it when it writes them: walking every row's JSON on every
 * event is what a rebuild spent most of its time on.
 */
function storableColumns(row: RequestRow): RequestRow {
  let out: Record<string, unknown> | undefined;
  for (const key in row) {
    const value = row[key];
    if (typeof value === 'string' && value.includes('\u0000')) {
      out ??= { ...row };
      out[key] = storable(value);
    }
  }
  return (out as RequestRow | undefined) ?? row;
}

function withLatency(row: RequestRow): RequestRow {
  const requested = ms(row.requested_at);
  const decided = ms(row.decided_at);
  return {
    ...row,
    decision_latency_ms: requested !== undefined && decided !== undefined ? decided - requested : null,
  };
}
