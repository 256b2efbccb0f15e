/** Who an admin-API call is made as (tests, the demo, operators' scripts). */
export interface CallerIdentity {
  readonly subject: string;
  /** Roles: admin, owner, approver, sre, auditor (an array, or a comma-separated string). */
  readonly roles: readonly string[] | string;
  readonly tenant: string;
}

/**
 * The HTTP headers that identify a caller to a Warden admin API. Every test and the demo go
 * through this one function, so the way callers identify themselves changes in one place.
 * Today: the development identity headers of ADR 0007 (not authentication; issue #3 replaces it).
 */
export async function callerHeaders(who: CallerIdentity): Promise<Record<string, string>> {
  const roles = typeof who.roles === 'string' ? who.roles : who.roles.join(',');
  return { 'x-warden-subject': who.subject, 'x-warden-roles': roles, 'x-warden-tenant': who.tenant };
}
