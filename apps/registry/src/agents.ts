import { Topic } from '@warden/contracts';
import { CommandGateway, ServiceRuntime, streamTable } from '@warden/platform';
import { agent, AgentCommand, AgentEvent, AgentState } from '@warden/registry-domain';
import { agentsProjection } from '@warden/registry-read-models';

export type AgentGateway = CommandGateway<AgentCommand, AgentState, AgentEvent>;
export const AGENTS = Symbol('AgentGateway');

/** Wires the agent aggregate (a stream table over registry.events) and its read model into the runtime. */
export function wireAgents(runtime: ServiceRuntime, instanceId: string): AgentGateway {
  const table = runtime.table(streamTable('registry-agents', [Topic.registryEvents], agent), instanceId);
  runtime.project(agentsProjection);
  return new CommandGateway(agent, table, runtime.port, runtime.prefix, 'warden://registry', (event) => ({
    topic: Topic.registryEvents,
    key: event.agentId,
    tenantId: event.tenantId,
    agentId: event.agentId,
    runId: '',
  }));
}
