import {
  ActiveSwitches,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  GateDecided,
  covering,
  evolveActiveSwitches,
  is,
  Topic,
} from '@warden/contracts';
import { AgentDirectory, evolveAgentDirectory, gate, GateCommand, GateState } from '@warden/policy-domain';
import { Processor, ProcessorDefinition, ServiceRuntime } from '@warden/platform';

/**
 * The policy stage of the gate: consumes the budget stage's answers (which carry the request),
 * decides with the kill switches and registry folded from Kafka, and publishes GateDecided.
 * It is the only writer of gate.decisions.
 */
export function wireGate(runtime: ServiceRuntime, instanceId: string): Processor<GateCommand, GateState, GateDecided> {
  const switches = runtime.table<ActiveSwitches>(
    {
      name: 'policy-killswitches',
      topics: [Topic.killswitchEvents],
      initial: () => new Map(),
      evolve: evolveActiveSwitches,
    },
    instanceId,
  );
  const agents = runtime.table<AgentDirectory>(
    { name: 'policy-agents', topics: [Topic.registryEvents], initial: () => new Map(), evolve: evolveAgentDirectory },
    instanceId,
  );

  const definition: ProcessorDefinition<GateCommand, GateState, GateDecided> = {
    name: 'policy-gate',
    inputs: [Topic.budgetReservations],
    outputs: [Topic.gateDecisions],
    decider: gate,
    tables: [switches, agents],
    command(input, ctx) {
      let answer: BudgetReserved | BudgetReservationRefused;
      if (is(input, BudgetReservedSchema) || is(input, BudgetReservationRefusedSchema)) answer = input.data;
      else return null;
      const request = answer.request;
      if (!request) return null;
      const granted = answer.$typeName === BudgetReservedSchema.typeName;
      return {
        type: 'DecideGate',
        request,
        reservation: {
          granted,
          reservationId: answer.reservationId,
          reason: granted ? '' : (answer as BudgetReservationRefused).reason,
          reservedTokens: granted ? (answer as BudgetReserved).reservedTokens : 0,
        },
        killSwitches: covering(switches.state, request, ctx.now),
        agent: agents.state.get(request.agentId),
        versions: { registry: agents.version, killswitch: switches.version },
        decisionId: ctx.id(),
        now: ctx.now,
      };
    },
    route: (d) => ({
      topic: Topic.gateDecisions,
      key: d.runId,
      tenantId: d.tenantId,
      agentId: d.agentId,
      runId: d.runId,
    }),
  };
  return runtime.process(definition);
}
