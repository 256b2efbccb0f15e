import {
  AgentActivatedSchema,
  AgentProfile,
  AgentProfileUpdatedSchema,
  AgentRegisteredSchema,
  AgentRetiredSchema,
  AgentSuspendedSchema,
  Envelope,
  is,
} from '@warden/contracts';

export type AgentStatus = 'draft' | 'active' | 'suspended' | 'retired';

/** What the gate needs to know about an agent, folded from registry.events. */
export interface AgentEntry {
  readonly agentId: string;
  readonly tenantId: string;
  readonly status: AgentStatus;
  readonly profile: AgentProfile | undefined;
  readonly version: number;
}

export type AgentDirectory = ReadonlyMap<string, AgentEntry>;

/**
 * Folds registry events into the gate's agent directory. Applies an event only when it is the
 * next version of that agent, so duplicates and events that lost a race change nothing.
 */
export function evolveAgentDirectory(directory: AgentDirectory, event: Envelope): AgentDirectory {
  const apply = (
    agentId: string,
    version: number,
    change: (entry: AgentEntry | undefined) => AgentEntry | undefined,
  ) => {
    const current = directory.get(agentId);
    if ((current?.version ?? 0) + 1 !== version) return directory;
    const next = change(current);
    return next ? new Map(directory).set(agentId, next) : directory;
  };
  const status = (s: AgentStatus) => (entry: AgentEntry | undefined) =>
    entry ? { ...entry, status: s, version: entry.version + 1 } : undefined;
  if (is(event, AgentRegisteredSchema)) {
    const e = event.data;
    return apply(e.agentId, e.version, () => ({
      agentId: e.agentId,
      tenantId: e.tenantId,
      status: 'draft',
      profile: e.profile,
      version: e.version,
    }));
  }
  if (is(event, AgentProfileUpdatedSchema)) {
    const e = event.data;
    return apply(e.agentId, e.version, (entry) =>
      entry ? { ...entry, profile: e.profile, version: e.version } : undefined,
    );
  }
  if (is(event, AgentActivatedSchema)) return apply(event.data.agentId, event.data.version, status('active'));
  if (is(event, AgentSuspendedSchema)) return apply(event.data.agentId, event.data.version, status('suspended'));
  if (is(event, AgentRetiredSchema)) return apply(event.data.agentId, event.data.version, status('retired'));
  return directory;
}
