import {
  covering,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  is,
  StepCompleted,
  StepCompletedSchema,
  StepFailed,
  StepFailedSchema,
  Topic,
  Verdict,
} from '@warden/contracts';
import {
  riskPointsOf,
  RunBudgetCommand,
  runBudget,
  RunBudgetEvent,
  RunBudgetState,
  RunDefaults,
} from '@warden/budget-domain';
import { invalid } from '@warden/kernel';
import { Processor, Route, ServiceRuntime } from '@warden/platform';
import { BudgetDefinitionTable } from './budget-definitions';
import { ReferenceTables } from './reference-tables';

type Input = GateRequested | GateDecided | StepCompleted | StepFailed;

export interface ReservationSettings {
  readonly defaults: RunDefaults;
  readonly reservationTtlMs: number;
  readonly approvalHoldMs: number;
}

/** The ledger's inputs, which the run stage sends to the tenant's partition of budget.holds. */
const TO_LEDGER = new Set<string>([
  'warden.budget.v1.HoldRequested',
  'warden.budget.v1.HoldSettlementRequested',
  'warden.budget.v1.HoldReleaseRequested',
  'warden.budget.v1.HoldExtensionRequested',
]);

/**
 * The run stage of the gate (stream = run id): reserves each gate request on the run's own budgets
 * with the kill switches and tool contracts in force, and answers it, or holds the run's share and
 * hands cross-run budgets to the tenant's ledger (budget.holds). Releases when the decision is
 * deny or expired or the step fails, keeps the hold while an approval is pending, settles to the
 * actual use when the step completes. Policy decides on the answers on budget.reservations.
 */
export function wireReservations(
  runtime: ServiceRuntime,
  definitions: BudgetDefinitionTable,
  tables: ReferenceTables,
  settings: ReservationSettings,
): Processor<RunBudgetCommand, RunBudgetState, RunBudgetEvent> {
  return runtime.process<RunBudgetCommand, RunBudgetState, RunBudgetEvent>({
    name: 'budget-reservations',
    inputs: [Topic.gateRequests, Topic.gateDecisions, Topic.gateOutcomes],
    outputs: [Topic.budgetReservations],
    decider: runBudget,
    tables: [tables.switches, tables.toolRisk, definitions],
    command(input, ctx) {
      const data = input.data as Input;
      if (data.runId !== input.key) {
        throw invalid('run_id_mismatch', `record key ${input.key} is not the run id ${data.runId}`, 'runId');
      }
      const base = { now: ctx.now, definitions: definitions.state.get(data.tenantId), defaults: settings.defaults };
      if (is(input, GateRequestedSchema)) {
        const r = input.data;
        const target = { tenantId: r.tenantId, agentId: r.agentId, runId: r.runId, tool: r.tool };
        return {
          ...base,
          type: 'ReserveBudget',
          request: r,
          reservationId: ctx.id(),
          riskPoints: riskPointsOf(tables.toolRisk.state, r),
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
      if (is(input, StepCompletedSchema)) {
        const c = input.data;
        return {
          ...base,
          type: 'SettleBudget',
          requestId: c.requestId,
          actualTokens: c.actualTokens,
          actualCost: c.actualCost,
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
        };
      }
      return null;
    },
    route(event, input): Route {
      const data = input.data as Input;
      const ids = { tenantId: data.tenantId, agentId: data.agentId, runId: data.runId };
      if (TO_LEDGER.has(event.$typeName)) return { topic: Topic.budgetHolds, key: data.tenantId, byKey: true, ...ids };
      return { topic: Topic.budgetReservations, key: input.key, ...ids };
    },
  });
}
