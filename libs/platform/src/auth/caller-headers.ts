import { devToken } from './dev-issuer';

/** Who an admin-API call is made as (tests, the demo, operators' scripts). */
export interface CallerIdentity {
  readonly subject: string;
  /** Roles: admin, owner, approver, sre, auditor (an array, or a comma-separated string). */
  readonly roles: readonly string[] | string;
  readonly tenant: string;
  /** The token's `email` claim, if any. */
  readonly email?: string;
}

/**
 * The HTTP headers that identify a caller to a Warden admin API. Every test and the demo go
 * through this one function: an `Authorization: Bearer` token minted by the development issuer
 * (ADR 0010), which the local stack and the test helpers configure every service to trust.
 */
export async function callerHeaders(who: CallerIdentity): Promise<Record<string, string>> {
  const roles = typeof who.roles === 'string' ? who.roles.split(',').filter(Boolean) : who.roles;
  return {
    authorization: `Bearer ${await devToken({ subject: who.subject, roles, tenant: who.tenant, email: who.email })}`,
  };
}
