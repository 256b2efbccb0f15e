import { Topic } from '@warden/contracts';
import { AgentKeys, emptyAgentKeys, evolveAgentKeys } from '@warden/gateway-domain';
import { TableDefinition } from '@warden/platform';

export type { AgentKeys } from '@warden/gateway-domain';

/** The agent keys (libs/gateway/domain) folded from registry.events at every start. */
export const agentKeysTable: TableDefinition<AgentKeys> = {
  name: 'gateway-agent-keys',
  topics: [Topic.registryEvents],
  initial: emptyAgentKeys,
  evolve: evolveAgentKeys,
};
