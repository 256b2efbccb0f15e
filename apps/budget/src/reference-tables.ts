import { ActiveSwitches, evolveActiveSwitches, Topic } from '@warden/contracts';
import { evolveToolRisk, ToolRiskTable } from '@warden/budget-domain';
import { ServiceRuntime, Table } from '@warden/platform';

/** What both budget processors read from other services: kill switches in force, tool contracts' risk classes. */
export interface ReferenceTables {
  readonly switches: Table<ActiveSwitches>;
  readonly toolRisk: Table<ToolRiskTable>;
}

export function wireReferenceTables(runtime: ServiceRuntime, instanceId: string): ReferenceTables {
  const switches = runtime.table<ActiveSwitches>(
    {
      name: 'budget-killswitches',
      topics: [Topic.killswitchEvents],
      initial: () => new Map(),
      evolve: evolveActiveSwitches,
    },
    instanceId,
  );
  const toolRisk = runtime.table<ToolRiskTable>(
    { name: 'budget-tool-risk', topics: [Topic.registryEvents], initial: () => new Map(), evolve: evolveToolRisk },
    instanceId,
  );
  return { switches, toolRisk };
}
