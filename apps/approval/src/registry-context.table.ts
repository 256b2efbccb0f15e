import {
  AgentProfile,
  AgentProfileUpdatedSchema,
  AgentRegisteredSchema,
  Envelope,
  GateRequested,
  IdentityLinkedSchema,
  IdentityUnlinkedSchema,
  is,
  ToolContract,
  ToolContractPublishedSchema,
  Topic,
} from '@warden/contracts';
import { IdentityLinks, normalIdentity, TaskContext, taskContextOf } from '@warden/approval-domain';
import { TableDefinition } from '@warden/platform';

/**
 * What the approval service keeps of the registry: agent profiles (with their registrant), tool
 * contracts by version, and each tenant's identity links (for separation of duties).
 */
export interface RegistryContext {
  readonly profiles: ReadonlyMap<
    string,
    {
      readonly tenantId: string;
      readonly profile: AgentProfile;
      /** Who registered the agent (AgentRegistered.change.by); kept across profile updates. */
      readonly registrant: string;
    }
  >;
  /** By "<tenant>/<tool>@<version>", and the latest published by "<tenant>/<tool>". */
  readonly contracts: ReadonlyMap<string, ToolContract>;
  /** By tenant, then by the subject's normal form: the subject and its aliases, as registered. */
  readonly links: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
}

export const registryContextTable: TableDefinition<RegistryContext> = {
  name: 'approval-registry-context',
  topics: [Topic.registryEvents],
  initial: () => ({ profiles: new Map(), contracts: new Map(), links: new Map() }),
  evolve(state, event: Envelope) {
    if (is(event, AgentRegisteredSchema) || is(event, AgentProfileUpdatedSchema)) {
      const { agentId, tenantId, profile } = event.data;
      if (!profile) return state;
      const registrant = is(event, AgentRegisteredSchema)
        ? (event.data.change?.by ?? '')
        : (state.profiles.get(agentId)?.registrant ?? '');
      return { ...state, profiles: new Map(state.profiles).set(agentId, { tenantId, profile, registrant }) };
    }
    if (is(event, ToolContractPublishedSchema)) {
      const { tenantId, contract } = event.data;
      if (!contract) return state;
      const tool = `${tenantId}/${contract.tool}`;
      return {
        ...state,
        contracts: new Map(state.contracts).set(`${tool}@${contract.version}`, contract).set(tool, contract),
      };
    }
    if (is(event, IdentityLinkedSchema) || is(event, IdentityUnlinkedSchema)) {
      const { tenantId, subject } = event.data;
      const tenant = new Map(state.links.get(tenantId) ?? []);
      if (is(event, IdentityLinkedSchema)) tenant.set(normalIdentity(subject), [subject, ...event.data.aliases]);
      else if (!tenant.delete(normalIdentity(subject))) return state;
      return { ...state, links: new Map(state.links).set(tenantId, tenant) };
    }
    return state;
  },
};

/** A tenant's identity links, as separation of duties compares a voter with them. */
export function linksOf(registry: RegistryContext, tenantId: string): IdentityLinks {
  return [...(registry.links.get(tenantId)?.values() ?? [])];
}

/**
 * The context of a request's task: the agent's profile and registrant (of the request's tenant),
 * and the contract of the tool at the version the agent pinned (else the latest published).
 */
export function contextOf(registry: RegistryContext, request: GateRequested): TaskContext {
  const entry = registry.profiles.get(request.agentId);
  const profile = entry && entry.tenantId === request.tenantId ? entry.profile : undefined;
  const tool = `${request.tenantId}/${request.tool}`;
  const pinned = profile?.tools.find((t) => t.tool === request.tool)?.contractVersion ?? '';
  const contract = pinned !== '' ? registry.contracts.get(`${tool}@${pinned}`) : registry.contracts.get(tool);
  return taskContextOf(request, profile, contract, profile ? (entry?.registrant ?? '') : '');
}
