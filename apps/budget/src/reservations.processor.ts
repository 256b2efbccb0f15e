import {
  ActiveSwitches,
  covering,
  evolveActiveSwitches,
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
  RunBudgetCommand,
  runBudget,
  RunBudgetEvent,
  RunBudgetState,
  RunLimits,
  runLimits,
} from '@warden/budget-domain';
import { invalid } from '@warden/kernel';
import { Processor, ServiceRuntime } from '@warden/platform';
import { BudgetDefinitionTable } from './budget-definitions';

type Input = GateRequested | GateDecided | StepCompleted | StepFailed;

/**
 * The budget stage of the gate (stream = run id): reserves for each gate request with the
 * tenant's run limits and the kill switches in force, releases when the decision is deny or
 * expired or the step fails, settles to the actual use when the step completes. Its answers on
 * budget.reservations are what the policy stage decides on.
 */
export function wireReservations(
  runtime: ServiceRuntime,
  instanceId: string,
  definitions: BudgetDefinitionTable,
  defaults: RunLimits,
): Processor<RunBudgetCommand, RunBudgetState, RunBudgetEvent> {
  const switches = runtime.table<ActiveSwitches>(
    {
      name: 'budget-killswitches',
      topics: [Topic.killswitchEvents],
      initial: () => new Map(),
      evolve: evolveActiveSwitches,
    },
    instanceId,
  );
  return runtime.process<RunBudgetCommand, RunBudgetState, RunBudgetEvent>({
    name: 'budget-reservations',
    inputs: [Topic.gateRequests, Topic.gateDecisions, Topic.gateOutcomes],
    outputs: [Topic.budgetReservations],
    decider: runBudget,
    tables: [switches, definitions],
    command(input, ctx) {
      const data = input.data as Input;
      if (data.runId !== input.key) {
        throw invalid('run_id_mismatch', `record key ${input.key} is not the run id ${data.runId}`, 'runId');
      }
      if (is(input, GateRequestedSchema)) {
        const r = input.data;
        const target = { tenantId: r.tenantId, agentId: r.agentId, runId: r.runId, tool: r.tool };
        return {
          type: 'ReserveBudget',
          request: r,
          reservationId: ctx.id(),
          now: ctx.now,
          limits: runLimits(definitions.state.get(r.tenantId), defaults),
          killSwitchIds: covering(switches.state, target, ctx.now).map((s) => s.switchId),
        };
      }
      if (is(input, GateDecidedSchema)) {
        const d = input.data;
        if (d.verdict !== Verdict.DENY && d.verdict !== Verdict.EXPIRED) return null;
        const reason = `decision ${Verdict[d.verdict].toLowerCase()}: ${d.reason}`;
        return { type: 'ReleaseBudget', requestId: d.requestId, reason, now: ctx.now };
      }
      if (is(input, StepCompletedSchema)) {
        const c = input.data;
        return {
          type: 'SettleBudget',
          requestId: c.requestId,
          actualTokens: c.actualTokens,
          actualCost: c.actualCost,
          now: ctx.now,
        };
      }
      if (is(input, StepFailedSchema)) {
        const f = input.data;
        return { type: 'ReleaseBudget', requestId: f.requestId, reason: `step failed: ${f.error}`, now: ctx.now };
      }
      return null;
    },
    route(_event, input) {
      const data = input.data as Input;
      return {
        topic: Topic.budgetReservations,
        key: input.key,
        tenantId: data.tenantId,
        agentId: data.agentId,
        runId: data.runId,
      };
    },
  });
}
