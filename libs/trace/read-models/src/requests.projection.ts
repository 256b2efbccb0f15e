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

/**
 * Where a row's copy of the gate request came from, most authoritative first. It is always the
 * request of record (docs/adr/0070): redacted by the gate's ingress; raw agent input on
 * gate.requests is never read here, and no credential is stored (see `withRequest`).
 */
export const REQUEST_SOURCES = [Topic.budgetReservations, Topic.gateDecisions, Topic.approvalEvents];
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
 * copy from the most authoritative source wins (`request_source`, and its `traceparent`), whatever
 * arrives first.
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
  /**
   * The W3C trace context the kept copy of the request was published with (its envelope's
   * `traceparent`): the span of the gate stage that published it, a child of the agent's span, so
   * it names the agent's trace (docs/adr/0070, "Traces continue").
   */
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
  | BudgetReserved
  | BudgetReservationRefused
  | BudgetSettled
  | BudgetReleased
  | GateDecided
  | ApprovalTaskOpened
  | ApprovalGranted
  | ApprovalDenied
  | ApprovalExpired;

const HANDLED = [
  BudgetReservedSchema,
  BudgetReservationRefusedSchema,
  BudgetSettledSchema,
  BudgetReleasedSchema,
  GateDecidedSchema,
  ApprovalTaskOpenedSchema,
  ApprovalGrantedSchema,
  ApprovalDeniedSchema,
  ApprovalExpiredSchema,
];

const INT4_MAX = 2_147_483_647;

export const requestsProjection: ProjectionDefinition<RequestRow> = {
  name: 'requests',
  table: 'trace.requests',
  topics: [Topic.budgetReservations, Topic.gateDecisions, Topic.approvalEvents],
  handles: HANDLED.map((s) => s.typeName),
  rowId: (event) => requestIdOf(event.data as Handled) || undefined,
  // A rebuild owns its rows: it updates each in place instead of copying it (40 columns) a few times per event.
  evolve: (row, event) => update(row && { ...row }, event),
  evolveInPlace: update,
};

type Draft = { -readonly [K in keyof RequestRow]: RequestRow[K] };

/** Applies the event to `row`, which the caller owns. Objects the row holds are replaced, never changed. */
function update(row: RequestRow | null, event: Envelope): RequestRow {
  const data = event.data as Handled;
  const next = (row ?? blank(requestIdOf(data), event)) as Draft;
  const updated = latest(next.updated_at, iso(event.time));
  apply(next, data, event.traceparent);
  next.updated_at = updated;
  storableColumns(next);
  return next;
}

function requestIdOf(data: Handled): string {
  switch (data.$typeName) {
    case 'warden.budget.v1.BudgetReserved':
    case 'warden.budget.v1.BudgetReservationRefused':
      return storable(data.request?.requestId ?? '');
    default:
      return storable(data.requestId);
  }
}

function apply(row: Draft, data: Handled, traceparent: string | undefined): void {
  switch (data.$typeName) {
    case 'warden.budget.v1.BudgetReserved':
      withRequest(row, data.request, Topic.budgetReservations, traceparent);
      return reservation(
        row,
        data.reservationId,
        () => messageJson(BudgetReservedSchema, { ...data, request: undefined }),
        'reserved',
      );
    case 'warden.budget.v1.BudgetReservationRefused':
      withRequest(row, data.request, Topic.budgetReservations, traceparent);
      return reservation(
        row,
        data.reservationId,
        () => messageJson(BudgetReservationRefusedSchema, { ...data, request: undefined }),
        'refused',
      );
    case 'warden.budget.v1.BudgetSettled':
      // The agent's report as the gate accepted it rides on the settlement.
      if (data.outcome) outcome(row, 'completed', data.outcome, () => messageJson(StepCompletedSchema, data.outcome!));
      return settlement(row, data.reservationId, () => messageJson(BudgetSettledSchema, data), 'settled');
    case 'warden.budget.v1.BudgetReleased':
      if (data.outcome) outcome(row, 'failed', data.outcome, () => messageJson(StepFailedSchema, data.outcome!));
      return settlement(row, data.reservationId, () => messageJson(BudgetReleasedSchema, data), 'released');
    case 'warden.gate.v1.GateDecided':
      withRequest(row, data.request, Topic.gateDecisions, traceparent);
      return decision(row, data);
    case 'warden.approval.v1.ApprovalTaskOpened':
      withRequest(row, data.request, Topic.approvalEvents, traceparent);
      return approval(row, 'open', () => messageJson(ApprovalTaskOpenedSchema, { ...data, request: undefined }));
    case 'warden.approval.v1.ApprovalGranted':
      return approval(row, 'granted', () => messageJson(ApprovalGrantedSchema, data));
    case 'warden.approval.v1.ApprovalDenied':
      return approval(row, 'denied', () => messageJson(ApprovalDeniedSchema, data));
    case 'warden.approval.v1.ApprovalExpired':
      return approval(row, 'expired', () => messageJson(ApprovalExpiredSchema, data));
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

/**
 * The request columns from the most authoritative copy (REQUEST_SOURCES), with the trace context
 * it was published with: the agent's own GateRequested, and so its `traceparent`, is never read.
 */
function withRequest(
  row: Draft,
  request: GateRequested | undefined,
  source: RequestSource,
  traceparent: string | undefined,
): void {
  if (!request) return;
  if (row.request_source !== null && REQUEST_SOURCES.indexOf(row.request_source) <= REQUEST_SOURCES.indexOf(source)) {
    return;
  }
  row.tenant_id = request.tenantId;
  row.agent_id = request.agentId;
  row.run_id = request.runId;
  row.step_id = request.stepId;
  row.idempotency_key = request.idempotencyKey;
  row.attempt = Math.min(request.attempt, INT4_MAX);
  row.action_kind = (ActionKind[request.actionKind] ?? `unknown_${request.actionKind}`).toLowerCase();
  row.tool = request.tool;
  row.action = request.action;
  row.requested_at = iso(request.requestedAtMs);
  row.deadline_at = iso(request.deadlineMs);
  row.model = request.model || null;
  row.memory_store = request.memoryStore || null;
  row.delegate_to_agent_id = request.delegateToAgentId || null;
  row.parent_step_id = request.parentStepId || null;
  // No credential rests in a table (ARCHITECTURE invariant 8), whatever the source carried.
  row.request = messageJson(GateRequestedSchema, {
    ...request,
    agentToken: '',
    requestProof: '',
    arguments: undefined,
  });
  row.request_source = source;
  row.traceparent = traceparent || null;
  withLatency(row);
}

/** The budget stage's answer; the first one recorded stays. */
function reservation(row: Draft, id: string, json: () => Json, status: 'reserved' | 'refused'): void {
  row.reservation_id ??= id;
  row.reservation ??= json();
  row.reservation_status ??= status;
}

/** Settled or released: the reservation's end, which no later reservation event undoes. */
function settlement(row: Draft, id: string, json: () => Json, status: 'settled' | 'released'): void {
  if (row.settlement) return;
  row.reservation_id ??= id;
  row.settlement = json();
  row.reservation_status = status;
}

function decision(row: Draft, d: GateDecided): void {
  const verdict = verdictName(d.verdict);
  row.decisions_seen = row.decisions_seen + 1;
  if (!supersedes(row.verdict, verdict)) return;
  row.decision = messageJson(GateDecidedSchema, { ...d, request: undefined });
  row.verdict = verdict;
  row.reason = d.reason;
  row.decided_at = iso(d.decidedAtMs);
  row.policy_bundle_version = d.context?.versions?.policyBundleVersion || null;
  row.risk_score = d.context ? Math.min(d.context.riskScore, INT4_MAX) : null;
  row.risk_class = d.context
    ? (RiskClass[d.context.riskClass] ?? `unknown_${d.context.riskClass}`).toLowerCase()
    : null;
  withLatency(row);
}

/** The task as opened, then its first resolution; a resolution is never reopened. */
function approval(row: Draft, status: ApprovalStatus, json: () => Json): void {
  const recorded = row.approval ?? {};
  if (status === 'open') {
    if (recorded.opened) return;
    row.approval = { ...recorded, opened: json() };
    row.approval_status ??= 'open';
    return;
  }
  if (row.approval_status !== null && row.approval_status !== 'open') return;
  row.approval = { ...recorded, [status]: json() };
  row.approval_status = status;
}

/** What the agent reported; the first report stays. */
function outcome(row: Draft, status: 'completed' | 'failed', o: StepCompleted | StepFailed, json: () => Json): void {
  if (row.outcome) return;
  row.outcome = json();
  row.outcome_status = status;
  row.actual_tokens = quantity(o.actualTokens);
  row.cost_micros = quantity(o.actualCost?.micros);
}

/**
 * NUL, which Postgres refuses, replaced in the text columns. The JSON columns are left to the
 * projection runner, which replaces it when it writes them: walking every row's JSON on every
 * event is what a rebuild spent most of its time on.
 */
function storableColumns(row: Draft): void {
  for (const key in row) {
    const value = row[key];
    if (typeof value === 'string' && value.includes('\u0000')) row[key] = storable(value);
  }
}

function withLatency(row: Draft): void {
  const requested = ms(row.requested_at);
  const decided = ms(row.decided_at);
  row.decision_latency_ms = requested !== undefined && decided !== undefined ? decided - requested : null;
}
