import { ActiveSwitches, evolveActiveSwitches, Topic } from '@warden/contracts';
import { emptyToolFacts, evolveToolFacts, ToolFacts } from '@warden/budget-domain';
import { ServiceRuntime, Table } from '@warden/platform';

/** What both budget processors read from other services: kill switches in force, tool contracts' risk classes and redaction marks. */
export interface ReferenceTables {
  readonly switches: Table<ActiveSwitches>;
  readonly tools: Table<ToolFacts>;
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
  const tools = runtime.table<ToolFacts>(
    { name: 'budget-tool-risk', topics: [Topic.registryEvents], initial: emptyToolFacts, evolve: evolveToolFacts },
    instanceId,
  );
  return { switches, tools };
}
