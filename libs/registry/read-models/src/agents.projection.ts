import { AgentProfile, Change, Envelope, Topic } from '@warden/contracts';
import {
  AgentEvent,
  AgentStatus,
  MemoryAccessInput,
  plainProfile,
  statusAfter,
  ToolGrantInput,
} from '@warden/registry-domain';
import { ProjectionDefinition } from '@warden/platform';

/** registry.agents: the current profile and state of every agent, for the list, get and inventory APIs. */
export interface AgentRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly state: AgentStatus;
  readonly version: number;
  readonly mission: string;
  readonly owner_team: string;
  readonly owner_contact: string;
  readonly business_process: string;
  readonly model: string;
  readonly autonomy_level: number;
  readonly tools: readonly ToolGrantInput[];
  readonly memory: readonly MemoryAccessInput[];
  readonly forbidden_memory_classes: readonly string[];
  readonly environments: readonly string[];
  readonly shutdown_path: string;
  readonly rollback_path: string;
  readonly delegates_to: readonly string[];
  readonly budget_profile: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly updated_at: string;
  readonly updated_by: string;
  readonly update_reason: string;
  readonly [column: string]: unknown;
}

function profileColumns(profile: AgentProfile) {
  const p = plainProfile(profile);
  return {
    mission: p.mission,
    owner_team: p.owner.team,
    owner_contact: p.owner.contact ?? '',
    business_process: p.businessProcess,
    model: p.model,
    autonomy_level: p.autonomyLevel,
    tools: p.tools,
    memory: p.memory,
    forbidden_memory_classes: p.forbiddenMemoryClasses,
    environments: p.environments,
    shutdown_path: p.shutdownPath,
    rollback_path: p.rollbackPath,
    delegates_to: p.delegatesTo,
    budget_profile: p.budgetProfile,
    labels: p.labels,
  };
}

const changeColumns = (change: Change | undefined) => ({
  updated_at: new Date(change?.atMs ?? 0).toISOString(),
  updated_by: change?.by ?? '',
  update_reason: change?.reason ?? '',
});

/**
 * Follows the aggregate exactly: an event is applied only when `statusAfter` (the aggregate's own
 * rule) accepts it, so events that lost a race on the topic change nothing here either.
 */
export const agentsProjection: ProjectionDefinition<AgentRow> = {
  name: 'agents',
  table: 'registry.agents',
  topics: [Topic.registryEvents],
  handles: [
    'warden.registry.v1.AgentRegistered',
    'warden.registry.v1.AgentProfileUpdated',
    'warden.registry.v1.AgentActivated',
    'warden.registry.v1.AgentSuspended',
    'warden.registry.v1.AgentRetired',
  ],
  rowId: (event: Envelope) => (event.data as AgentEvent).agentId,
  evolve(row, event) {
    const data = event.data as AgentEvent;
    const head = row && { status: row.state, version: row.version, agentId: row.id, tenantId: row.tenant_id };
    const state = statusAfter(head ?? undefined, data);
    if (!state) return row;
    const profile = 'profile' in data && data.profile ? profileColumns(data.profile) : {};
    return {
      ...(row ?? { id: data.agentId, tenant_id: data.tenantId }),
      ...profile,
      state,
      version: data.version,
      ...changeColumns(data.change),
    } as AgentRow;
  },
};
