import {
  AgentActivated,
  AgentActivatedSchema,
  AgentProfile,
  AgentProfileUpdated,
  AgentProfileUpdatedSchema,
  AgentRegistered,
  AgentRegisteredSchema,
  AgentRetired,
  AgentRetiredSchema,
  AgentSuspended,
  AgentSuspendedSchema,
  Change,
  ChangeSchema,
  create,
} from '@warden/contracts';
import { assertNever, conflict, Decider, invalid, notFound, Permission, requireRole } from '@warden/kernel';
import { ProfileInput, requireId, validProfile } from './agent-profile';
import { ToolCatalogue } from './tool-contract';

/** Events of one agent (stream id = agent id), in wire form. Each carries the version it creates. */
export type AgentEvent = AgentRegistered | AgentProfileUpdated | AgentActivated | AgentSuspended | AgentRetired;

export type AgentStatus = 'draft' | 'active' | 'suspended' | 'retired';

export interface Agent {
  readonly status: AgentStatus;
  readonly agentId: string;
  readonly tenantId: string;
  readonly profile: AgentProfile;
  readonly version: number;
  readonly registered: Change;
  readonly lastChange: Change;
}

export type AgentState = { readonly status: 'none' } | Agent;

/** Who changes an agent, with which roles, why and when. */
interface ChangeBy {
  readonly by: string;
  readonly roles: readonly string[];
  readonly reason: string;
  readonly now: number;
}

/** A command on an existing agent: only callers of its tenant see it, at the version they read. */
interface AgentChange extends ChangeBy {
  readonly agentId: string;
  readonly callerTenant: string;
  readonly expectedVersion: number;
}

export type AgentCommand =
  | ({
      readonly type: 'RegisterAgent';
      readonly agentId: string;
      readonly tenantId: string;
      readonly profile: ProfileInput;
      /** The tenant's tool contracts, to check the profile's pins against. */
      readonly catalogue?: ToolCatalogue;
    } & ChangeBy)
  | ({
      readonly type: 'UpdateAgentProfile';
      readonly profile: ProfileInput;
      readonly catalogue?: ToolCatalogue;
    } & AgentChange)
  | ({ readonly type: 'ActivateAgent' } & AgentChange)
  | ({ readonly type: 'SuspendAgent' } & AgentChange)
  | ({ readonly type: 'RetireAgent' } & AgentChange);

/** The permission each command needs (roles: libs/kernel/src/roles.ts). */
const AGENT_PERMISSIONS: Readonly<Record<AgentCommand['type'], Permission>> = {
  RegisterAgent: 'registry.agents.write',
  UpdateAgentProfile: 'registry.agents.write',
  ActivateAgent: 'registry.agents.write',
  SuspendAgent: 'registry.agents.suspend',
  RetireAgent: 'registry.agents.retire',
};

/** The lifecycle: which states each change leaves from, and where it goes. Retired is final. */
const LIFECYCLE = {
  'warden.registry.v1.AgentProfileUpdated': { from: ['draft', 'active', 'suspended'], to: undefined, verb: 'updated' },
  'warden.registry.v1.AgentActivated': { from: ['draft', 'suspended'], to: 'active', verb: 'activated' },
  'warden.registry.v1.AgentSuspended': { from: ['active'], to: 'suspended', verb: 'suspended' },
  'warden.registry.v1.AgentRetired': { from: ['draft', 'active', 'suspended'], to: 'retired', verb: 'retired' },
} as const satisfies Record<
  Exclude<AgentEvent['$typeName'], 'warden.registry.v1.AgentRegistered'>,
  { from: readonly AgentStatus[]; to: AgentStatus | undefined; verb: string }
>;

function requireReason(reason: string): void {
  if (reason.trim().length === 0) throw invalid('reason_required', 'a reason is required', 'reason');
}

/** The agent a command names, as its caller may see it: another tenant's agent does not exist for them. */
function existing(command: AgentChange, state: AgentState, type: keyof typeof LIFECYCLE): Agent {
  if (state.status === 'none' || state.tenantId !== command.callerTenant)
    throw notFound('agent_not_found', `no agent ${command.agentId}`);
  if (command.expectedVersion !== state.version)
    throw conflict(
      'stale_version',
      `agent ${state.agentId} is at version ${state.version}, not ${command.expectedVersion}; read it again`,
      'expectedVersion',
    );
  const step = LIFECYCLE[type];
  if (!(step.from as readonly AgentStatus[]).includes(state.status))
    throw conflict('invalid_transition', `agent ${state.agentId} is ${state.status}; it cannot be ${step.verb}`);
  return state;
}

const changeOf = (command: ChangeBy): Change =>
  create(ChangeSchema, { by: command.by, reason: command.reason, atMs: command.now });

/** What an event needs to know about the agent it follows. */
export interface AgentHead {
  readonly status: AgentStatus;
  readonly version: number;
  readonly agentId: string;
  readonly tenantId: string;
}

/**
 * The status an agent has after `event`, or undefined when the event does not follow `current`:
 * not the next version, another agent or tenant, a step the lifecycle forbids, or no profile.
 * The one rule shared by the aggregate's evolve and every fold of registry.events.
 */
export function statusAfter(current: AgentHead | undefined, event: AgentEvent): AgentStatus | undefined {
  if (event.version !== (current?.version ?? 0) + 1) return undefined;
  if (event.$typeName === 'warden.registry.v1.AgentRegistered') {
    return current === undefined && event.profile ? 'draft' : undefined;
  }
  if (!current || current.agentId !== event.agentId || current.tenantId !== event.tenantId) return undefined;
  if (event.$typeName === 'warden.registry.v1.AgentProfileUpdated' && !event.profile) return undefined;
  const step = LIFECYCLE[event.$typeName];
  if (!(step.from as readonly AgentStatus[]).includes(current.status)) return undefined;
  return step.to ?? current.status;
}

export const agent: Decider<AgentCommand, AgentState, AgentEvent> = {
  initialState: { status: 'none' },

  decide(command, state) {
    requireRole(command, AGENT_PERMISSIONS[command.type]);
    switch (command.type) {
      case 'RegisterAgent': {
        requireId(command.agentId, 'agentId', 'invalid_agent_id');
        requireId(command.tenantId, 'tenantId', 'invalid_tenant_id');
        const profile = pinnedProfile(command.profile, command.catalogue);
        if (state.status !== 'none')
          throw conflict('already_exists', `agent id ${command.agentId} is taken`, 'agentId');
        return [
          create(AgentRegisteredSchema, {
            agentId: command.agentId,
            tenantId: command.tenantId,
            profile,
            version: 1,
            change: changeOf(command),
          }),
        ];
      }
      case 'UpdateAgentProfile': {
        const profile = pinnedProfile(command.profile, command.catalogue);
        const current = existing(command, state, 'warden.registry.v1.AgentProfileUpdated');
        return [
          create(AgentProfileUpdatedSchema, {
            agentId: current.agentId,
            tenantId: current.tenantId,
            profile,
            version: current.version + 1,
            change: changeOf(command),
          }),
        ];
      }
      case 'ActivateAgent': {
        const current = existing(command, state, 'warden.registry.v1.AgentActivated');
        return [create(AgentActivatedSchema, lifecycleFields(current, command))];
      }
      case 'SuspendAgent': {
        requireReason(command.reason);
        const current = existing(command, state, 'warden.registry.v1.AgentSuspended');
        return [create(AgentSuspendedSchema, lifecycleFields(current, command))];
      }
      case 'RetireAgent': {
        requireReason(command.reason);
        const current = existing(command, state, 'warden.registry.v1.AgentRetired');
        return [create(AgentRetiredSchema, lifecycleFields(current, command))];
      }
      default:
        return assertNever(command, 'command');
    }
  },

  /**
   * Applies an event only when it is the next version of this agent and a legal step from its
   * state; otherwise returns the same state object, which tells the command gateway that the
   * event lost a race (and makes replaying a duplicate harmless).
   */
  evolve(state, event) {
    const status = statusAfter(state.status === 'none' ? undefined : state, event);
    if (!status) return state;
    const lastChange = event.change ?? create(ChangeSchema);
    if (event.$typeName === 'warden.registry.v1.AgentRegistered' && event.profile) {
      return {
        status,
        agentId: event.agentId,
        tenantId: event.tenantId,
        profile: event.profile,
        version: event.version,
        registered: lastChange,
        lastChange,
      };
    }
    if (state.status === 'none') return state;
    const profile = (event.$typeName === 'warden.registry.v1.AgentProfileUpdated' && event.profile) || state.profile;
    return { ...state, status, profile, version: event.version, lastChange };
  },
};

function lifecycleFields(current: Agent, command: ChangeBy) {
  return {
    agentId: current.agentId,
    tenantId: current.tenantId,
    version: current.version + 1,
    change: changeOf(command),
  };
}

/**
 * A valid profile whose pins name published, live contract versions with their exact digest and
 * only actions those versions offer. A tool granted without a pin is accepted (drafts are built
 * up step by step) but the gate denies every request for it until the owner pins a version.
 */
function pinnedProfile(input: ProfileInput, catalogue: ToolCatalogue = () => undefined): AgentProfile {
  const profile = validProfile(input);
  profile.tools.forEach((grant, i) => {
    const at = `tools[${i}]`;
    if (!grant.contractVersion && !grant.definitionDigest) return;
    const contracts = catalogue(grant.tool);
    if (!contracts || contracts.versions.size === 0)
      throw invalid('unknown_tool', `no contract is published for tool ${grant.tool}`, `${at}.tool`);
    const version = contracts.versions.get(grant.contractVersion);
    if (!version)
      throw invalid(
        'unknown_contract_version',
        `tool ${grant.tool} has no version ${grant.contractVersion}`,
        `${at}.contractVersion`,
      );
    if (version.withdrawn)
      throw invalid(
        'contract_withdrawn',
        `version ${grant.contractVersion} of ${grant.tool} is withdrawn`,
        `${at}.contractVersion`,
      );
    if (version.contract.definitionDigest !== grant.definitionDigest)
      throw invalid(
        'digest_mismatch',
        `the digest of ${grant.tool} version ${grant.contractVersion} is ${version.contract.definitionDigest}`,
        `${at}.definitionDigest`,
      );
    grant.actions.forEach((action, j) => {
      if (!version.contract.actions.some((a) => a.name === action))
        throw invalid(
          'unknown_action',
          `${grant.tool} version ${grant.contractVersion} has no action ${action}`,
          `${at}.actions[${j}]`,
        );
    });
  });
  return profile;
}
