import { Topic } from '@warden/contracts';
import { CommandGateway, replyTopicSpec, ServiceRuntime, streamTable } from '@warden/platform';
import {
  agent,
  AgentCommand,
  AgentEvent,
  AgentHeadView,
  agentAuthority,
  AgentState,
  AuthorityCommand,
  AuthorityEvent,
  AuthorityState,
  IdentityLinkCommand,
  IdentityLinkEvent,
  identityLinks,
  identityLinksStream,
  IdentityLinksState,
  KEYS_STREAM,
  SigningKeyCommand,
  SigningKeyEvent,
  signingKeys,
  SigningKeysState,
  ToolCatalogue,
  toolContract,
  ToolContractCommand,
  ToolContractEvent,
  ToolContractState,
  toolStream,
} from '@warden/registry-domain';
import {
  agentBudgetsProjection,
  agentsProjection,
  auditProjection,
  credentialsProjection,
  grantsProjection,
  identityLinksProjection,
  toolContractsProjection,
} from '@warden/registry-read-models';

export type AgentGateway = CommandGateway<AgentCommand, AgentState, AgentEvent>;
export type ToolGateway = CommandGateway<ToolContractCommand, ToolContractState | undefined, ToolContractEvent>;
export type AuthorityGateway = CommandGateway<AuthorityCommand, AuthorityState | undefined, AuthorityEvent>;
export type KeyGateway = CommandGateway<SigningKeyCommand, SigningKeysState, SigningKeyEvent>;
export type IdentityLinkGateway = CommandGateway<IdentityLinkCommand, IdentityLinksState, IdentityLinkEvent>;

/**
 * The registry's aggregates, each a stream table over registry.events with its command gateway:
 * agents (key = agent id), tool contracts (key = `tool:<tenant>/<tool>`), agent authority —
 * credentials and delegation grants (key = agent id) — signing keys (key = `keys`) and a tenant's
 * identity links (key = `identity-links:<tenant>`).
 */
export class Registry {
  constructor(
    readonly agents: AgentGateway,
    readonly tools: ToolGateway,
    readonly authority: AuthorityGateway,
    readonly keys: KeyGateway,
    readonly links: IdentityLinkGateway,
  ) {}

  /** The agent as commands on its identity and authority need it. */
  agentHead(agentId: string): AgentHeadView | undefined {
    const state = this.agents.state(agentId);
    return state.status === 'none' ? undefined : { agentId, tenantId: state.tenantId, status: state.status };
  }

  /** A tenant's tool contracts, for checking an agent's pins. */
  catalogue(tenantId: string): ToolCatalogue {
    return (tool) => this.tools.state(toolStream(tenantId, tool));
  }
}

export const REGISTRY = Symbol('Registry');

const source = 'warden://registry';

export function wireRegistry(runtime: ServiceRuntime, instanceId: string): Registry {
  const table = <S, E>(name: string, decider: { evolve: (s: S, e: E) => S; initialState: S }) =>
    runtime.table(streamTable(name, [Topic.registryEvents], decider), instanceId);
  const { port, prefix } = runtime;
  const agentsTable = table('registry-agents', agent);
  const agents = new CommandGateway(agent, agentsTable, port, prefix, source, (event) => ({
    topic: Topic.registryEvents,
    key: event.agentId,
    tenantId: event.tenantId,
    agentId: event.agentId,
    runId: '',
  }));
  const tools = new CommandGateway(
    toolContract,
    table('registry-tools', toolContract),
    port,
    prefix,
    source,
    (event) => {
      const tool = event.$typeName === 'warden.registry.v1.ToolContractPublished' ? event.contract!.tool : event.tool;
      return {
        topic: Topic.registryEvents,
        key: toolStream(event.tenantId, tool),
        tenantId: event.tenantId,
        agentId: '',
        runId: '',
      };
    },
  );
  const authority = new CommandGateway(
    agentAuthority,
    table('registry-authority', agentAuthority),
    port,
    prefix,
    source,
    (event) => ({
      topic: Topic.registryEvents,
      key: event.agentId,
      tenantId: event.tenantId,
      agentId: event.agentId,
      runId: '',
    }),
  );
  const keys = new CommandGateway(signingKeys, table('registry-keys', signingKeys), port, prefix, source, () => ({
    topic: Topic.registryEvents,
    key: KEYS_STREAM,
    tenantId: '',
    agentId: '',
    runId: '',
  }));
  const links = new CommandGateway(
    identityLinks,
    table('registry-identity-links', identityLinks),
    port,
    prefix,
    source,
    (event) => ({
      topic: Topic.registryEvents,
      key: identityLinksStream(event.tenantId),
      tenantId: event.tenantId,
      agentId: '',
      runId: '',
    }),
  );
  for (const projection of [
    agentsProjection,
    toolContractsProjection,
    credentialsProjection,
    grantsProjection,
    auditProjection,
    agentBudgetsProjection,
    identityLinksProjection,
  ])
    runtime.project(projection as Parameters<ServiceRuntime['project']>[0]);
  // Agents registered before reply topics existed get theirs (docs/adr/0070); a no-op afterwards.
  runtime.afterStart(async () => {
    const specs = [...agentsTable.state].flatMap(([agentId, a]) =>
      a.status === 'none' ? [] : [replyTopicSpec(prefix, a.tenantId, agentId)],
    );
    if (specs.length > 0) await port.ensureTopics(specs);
  });
  return new Registry(agents, tools, authority, keys, links);
}
