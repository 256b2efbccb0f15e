import {
  acceptGateRequest,
  AGENT_FACING,
  covering,
  create,
  Envelope,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  GateRequestRejectedSchema,
  ID_PATTERN,
  is,
  outcomeProblem,
  replyContentTypeOf,
  StepCompleted,
  StepCompletedSchema,
  StepFailed,
  StepFailedSchema,
  Topic,
  TopicName,
  Verdict,
} from '@warden/contracts';
import {
  redactionMarksOf,
  riskPointsOf,
  RunBudgetCommand,
  runBudget,
  RunBudgetEvent,
  RunBudgetState,
  RunDefaults,
} from '@warden/budget-domain';
import { invalid } from '@warden/kernel';
import { Processor, Route, ServiceRuntime, UNDECODED } from '@warden/platform';
import { BudgetDefinitionTable } from './budget-definitions';
import { ReferenceTables } from './reference-tables';

type Input = GateRequested | GateDecided | StepCompleted | StepFailed;

export interface ReservationSettings {
  readonly defaults: RunDefaults;
  readonly reservationTtlMs: number;
  readonly approvalHoldMs: number;
  /** How far after `requested_at_ms` a deadline may lie. */
  readonly maxDeadlineMs: number;
}

/** The ledger's inputs, which the run stage sends to the tenant's partition of budget.holds. */
const TO_LEDGER = new Set<string>([
  'warden.budget.v1.HoldRequested',
  'warden.budget.v1.HoldSettlementRequested',
  'warden.budget.v1.HoldReleaseRequested',
  'warden.budget.v1.HoldExtensionRequested',
]);

/** The run an agent's request or outcome belongs to, when it names a well-formed one. */
function runOf(input: Envelope): string | undefined {
  const data = input.data as Input;
  if (!(is(input, GateRequestedSchema) || is(input, StepCompletedSchema) || is(input, StepFailedSchema)))
    return undefined;
  return ID_PATTERN.test(data.runId) ? data.runId : undefined;
}

/** The ids an event of the run stage names (each carries its request or the request's ids). */
function idsOf(event: RunBudgetEvent): { tenantId: string; agentId: string; runId: string; requestId: string } {
  const r = 'request' in event && event.request ? event.request : undefined;
  if (r) return { tenantId: r.tenantId, agentId: r.agentId, runId: r.runId, requestId: r.requestId };
  const e = event as { tenantId?: string; agentId?: string; runId?: string; requestId?: string };
  return { tenantId: e.tenantId ?? '', agentId: e.agentId ?? '', runId: e.runId ?? '', requestId: e.requestId ?? '' };
}

/**
 * The run stage of the gate (stream = run id), and the gate's ingress (docs/adr/0070): the only
 * consumer of what agents write. A request or outcome that arrived on another partition than its
 * run's is first moved to the run's partition of gate.rerouted. A request is validated, its
 * arguments digested and redacted (the request of record), then reserved on the run's own budgets
 * with the kill switches and tool contracts in force, and answered, or the run's share is held and
 * cross-run budgets handed to the tenant's ledger (budget.holds). What cannot be accepted is
 * dead-lettered and answered with GateRequestRejected, which policy turns into a deny naming the
 * field. Releases when the decision is deny or expired or the step fails, keeps the hold while an
 * approval is pending, settles to the actual use when the step completes; an outcome counts only
 * when the agent that proved the request reports it. Policy decides on the answers on
 * budget.reservations.
 */
export function wireReservations(
  runtime: ServiceRuntime,
  definitions: BudgetDefinitionTable,
  tables: ReferenceTables,
  settings: ReservationSettings,
): Processor<RunBudgetCommand, RunBudgetState, RunBudgetEvent> {
  const rules = { maxDeadlineMs: settings.maxDeadlineMs };
  return runtime.process<RunBudgetCommand, RunBudgetState, RunBudgetEvent>({
    name: 'budget-reservations',
    inputs: [Topic.gateRequests, Topic.gateRerouted, Topic.gateDecisions, Topic.gateOutcomes],
    outputs: [Topic.budgetReservations],
    decider: runBudget,
    tables: [tables.switches, tables.tools, definitions],
    reroute: { topic: Topic.gateRerouted, streamOf: runOf },
    command(input, ctx) {
      const data = input.data as Input;
      const base = { now: ctx.now, definitions: definitions.state.get(data.tenantId), defaults: settings.defaults };
      if (is(input, GateRequestedSchema)) {
        const sent = input.data;
        const replyTo = replyContentTypeOf(input.headers ?? {});
        const accepted = acceptGateRequest(sent, rules, replyTo, redactionMarksOf(tables.tools.state, sent));
        if (!accepted.ok) throw invalid(accepted.problem.code, accepted.problem.reason, accepted.problem.field);
        const r = accepted.request;
        const target = { tenantId: r.tenantId, agentId: r.agentId, runId: r.runId, tool: r.tool };
        return {
          ...base,
          type: 'ReserveBudget',
          request: r,
          reservationId: ctx.id(),
          riskPoints: riskPointsOf(tables.tools.state.risk, r),
          killSwitchIds: covering(tables.switches.state, target, ctx.now).map((s) => s.switchId),
          ttlMs: settings.reservationTtlMs,
        };
      }
      if (is(input, GateDecidedSchema)) {
        const d = input.data;
        if (d.verdict === Verdict.PENDING_APPROVAL) {
          return {
            ...base,
            type: 'ExtendHold',
            requestId: d.requestId,
            expiresAt: ctx.now + settings.approvalHoldMs,
            reason: 'approval pending',
          };
        }
        // Nothing runs after a deny, an expiry or already_completed (the step ran before): release.
        if (d.verdict !== Verdict.DENY && d.verdict !== Verdict.EXPIRED && d.verdict !== Verdict.ALREADY_COMPLETED) {
          return null;
        }
        const reason = `decision ${Verdict[d.verdict].toLowerCase()}: ${d.reason}`;
        return {
          ...base,
          type: 'ReleaseBudget',
          requestId: d.requestId,
          reason,
          chargedTokens: 0,
          chargedCost: undefined,
        };
      }
      if (is(input, StepCompletedSchema) || is(input, StepFailedSchema)) {
        const bad = outcomeProblem(input.data);
        if (bad) throw invalid(bad.code, bad.reason, bad.field);
      }
      if (is(input, StepCompletedSchema)) {
        const c = input.data;
        return {
          ...base,
          type: 'SettleBudget',
          requestId: c.requestId,
          actualTokens: c.actualTokens,
          actualCost: c.actualCost,
          outcome: c,
        };
      }
      if (is(input, StepFailedSchema)) {
        const f = input.data;
        return {
          ...base,
          type: 'ReleaseBudget',
          requestId: f.requestId,
          reason: `step failed: ${f.error}`,
          chargedTokens: f.actualTokens,
          chargedCost: f.actualCost,
          outcome: f,
        };
      }
      return null;
    },
    invalid(failure, ctx) {
      const topic = failure.record.topic.slice(runtime.prefix.length) as TopicName;
      const isRequest =
        topic === Topic.gateRequests ||
        (topic === Topic.gateRerouted && failure.record.headers.ce_type === GateRequestedSchema.typeName);
      if (!AGENT_FACING.has(topic) || !isRequest || !failure.ids.requestId) return null;
      const { requestId, tenantId, agentId, runId } = failure.ids;
      return {
        type: 'RejectGateRequest',
        now: ctx.now,
        definitions: undefined,
        defaults: settings.defaults,
        rejection: create(GateRequestRejectedSchema, {
          requestId,
          tenantId,
          agentId,
          runId,
          field: failure.field,
          code: failure.code.replace(/^invalid:/, ''),
          reason: failure.reason,
          rejectedAtMs: ctx.now,
          replyContentType: replyContentTypeOf(failure.record.headers),
          source: `${failure.record.topic}:${failure.record.partition}:${failure.record.offset}`,
        }),
      };
    },
    route(event, input): Route {
      const known = input.type === UNDECODED ? undefined : (input.data as Input);
      const own = idsOf(event);
      const ids = { ...own, agentId: own.agentId || (known?.agentId ?? '') };
      if (TO_LEDGER.has(event.$typeName)) return { topic: Topic.budgetHolds, key: ids.tenantId, byKey: true, ...ids };
      return { topic: Topic.budgetReservations, key: ids.runId || ids.requestId, ...ids };
    },
  });
}
