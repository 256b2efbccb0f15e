import { Scope } from './gen/warden/killswitch/v1/killswitch_pb';

/** What a kill-switch scope is matched against: the ids of a gate request. */
export interface ScopeTarget {
  readonly tenantId: string;
  readonly agentId: string;
  readonly runId: string;
  readonly tool: string;
}

/**
 * The meaning of a kill-switch scope, shared by every service that enforces one: each field
 * that is set must match; unset fields are wildcards; an empty scope covers everything.
 */
export function scopeCovers(scope: Scope | undefined, target: ScopeTarget): boolean {
  if (!scope) return true;
  return (
    (scope.tenantId === '' || scope.tenantId === target.tenantId) &&
    (scope.agentId === '' || scope.agentId === target.agentId) &&
    (scope.runId === '' || scope.runId === target.runId) &&
    (scope.tool === '' || scope.tool === target.tool)
  );
}

export function describeScope(scope: Scope | undefined): string {
  if (!scope) return 'global';
  const parts = (['tenantId', 'agentId', 'runId', 'tool'] as const)
    .filter((k) => scope[k] !== '')
    .map((k) => `${k}=${scope[k]}`);
  return parts.length === 0 ? 'global' : parts.join(',');
}
