import { Change } from '@warden/contracts';
import { AgentState, plainProfile } from '@warden/registry-domain';

const changeView = (change: Change) => ({
  by: change.by,
  reason: change.reason,
  at: new Date(change.atMs).toISOString(),
});

/** What a command returns: the agent as this instance has just applied it, with its version. */
export function agentView(state: AgentState) {
  if (state.status === 'none') return { state: 'none' };
  return {
    agentId: state.agentId,
    tenantId: state.tenantId,
    state: state.status,
    version: state.version,
    profile: plainProfile(state.profile),
    registered: changeView(state.registered),
    lastChange: changeView(state.lastChange),
  };
}
