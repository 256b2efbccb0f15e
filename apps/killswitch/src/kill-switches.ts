import { Envelope, Topic } from '@warden/contracts';
import {
  emptyGateContext,
  evolveGateContext,
  GateContext,
  KillSwitchCommand,
  killSwitch,
  KillSwitchEvent,
  KillSwitchState,
} from '@warden/killswitch-domain';
import { switchesProjection } from '@warden/killswitch-read-models';
import { CommandGateway, OFF_GATE_PATH, Route, ServiceRuntime, Table, TableDefinition } from '@warden/platform';
import { KillSwitchConfig } from './config';

export type KillSwitchGateway = CommandGateway<KillSwitchCommand, KillSwitchState, KillSwitchEvent>;
export type SwitchesTable = Table<Map<string, KillSwitchState>>;
export type GateContextTable = Table<GateContext>;

/** Everything the HTTP shell and the reactions need. */
export interface KillSwitches {
  readonly gateway: KillSwitchGateway;
  readonly switches: SwitchesTable;
  readonly context: GateContextTable;
}
export const KILL_SWITCHES = Symbol('KillSwitches');

/**
 * Every switch's state, folded by switch id (the event's `switchId`, not the record key: RunHalted
 * travels keyed by run id but belongs to its switch).
 */
export const switchesTable: TableDefinition<Map<string, KillSwitchState>> = {
  name: 'killswitch-switches',
  topics: [Topic.killswitchEvents],
  initial: () => new Map(),
  evolve(streams, event) {
    const data = event.data as KillSwitchEvent;
    const before = streams.get(data.switchId) ?? killSwitch.initialState;
    const after = killSwitch.evolve(before, data);
    if (after === before) return streams;
    const next = new Map(streams);
    next.set(data.switchId, after);
    return next;
  },
};

/** Agents with owners and recently active runs, for the engage command. */
export const gateContextTable = (liveRunMs: number): TableDefinition<GateContext> => ({
  name: 'killswitch-gate-context',
  topics: [Topic.registryEvents, Topic.gateDecisions, Topic.budgetReservations],
  initial: emptyGateContext,
  evolve: (context: GateContext, event: Envelope) => evolveGateContext(context, event, liveRunMs),
  // Of the budget stage's answers only settlements (completed steps) matter: the rest is not decoded.
  skip: (h) => h.ce_type?.startsWith('warden.budget.') === true && h.ce_type !== 'warden.budget.v1.BudgetSettled',
  // Live runs for the next engage: gathered from the busy gate topics, not fetched per record.
  batching: OFF_GATE_PATH,
});

/** Where each kill-switch event goes: RunHalted by run id (orchestrators read a run in order), the rest by switch id. */
export function routeKillSwitchEvent(event: KillSwitchEvent): Route {
  if (event.$typeName === 'warden.killswitch.v1.RunHalted') {
    return {
      topic: Topic.killswitchEvents,
      key: event.runId,
      tenantId: event.tenantId,
      agentId: event.agentId,
      runId: event.runId,
    };
  }
  const scope = 'scope' in event ? event.scope : undefined;
  return {
    topic: Topic.killswitchEvents,
    key: event.switchId,
    tenantId: scope?.tenantId ?? '',
    agentId: scope?.agentId ?? '',
    runId: scope?.runId ?? '',
  };
}

/** Wires the kill-switch aggregate, the tables it decides with, and its read model into the runtime. */
export function wireKillSwitches(runtime: ServiceRuntime, config: KillSwitchConfig): KillSwitches {
  const switches = runtime.table(switchesTable, config.instanceId);
  const context = runtime.table(gateContextTable(config.liveRunMs), config.instanceId);
  runtime.project(switchesProjection);
  const gateway = new CommandGateway(
    killSwitch,
    switches,
    runtime.port,
    runtime.prefix,
    'warden://killswitch',
    routeKillSwitchEvent,
  );
  return { gateway, switches, context };
}
