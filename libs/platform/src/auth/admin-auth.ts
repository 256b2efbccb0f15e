import { createLocalJWKSet, createRemoteJWKSet, errors, JSONWebKeySet, jwtVerify, JWTVerifyGetKey } from 'jose';
import { DomainError, ROLES, TenantActor, unauthenticated } from '@warden/kernel';

/** Who is calling an admin API: subject, roles and tenant (from a verified bearer token); checked with libs/kernel/src/roles.ts. */
export interface Caller extends TenantActor {
  readonly subject: string;
  /** The token's OIDC `email` claim, when it has one (separation of duties compares it: ADR 0116). */
  readonly email?: string;
}

/** Which tokens the admin APIs accept (ADR 0010): an OIDC-style issuer, audience and its JWKS. */
export interface AdminAuthConfig {
  readonly issuer: string;
  readonly audience: string;
  /** The issuer's public keys, inline or from a file; or a URL to fetch them from. */
  readonly jwks?: JSONWebKeySet;
  readonly jwksUrl?: string;
}

/** Accepted signature algorithms: Ed25519 and the usual OIDC provider algorithms. */
const ALGORITHMS = ['EdDSA', 'RS256', 'PS256', 'ES256'];

/**
 * Verifies `Authorization: Bearer <jwt>` for the admin APIs of every service: signature against
 * the configured JWKS, issuer, audience, expiry; claims `sub`, `roles` (each one of ROLES),
 * `tenant` and, if present, `email`. Without a JWKS every call is refused (fail closed).
 */
export class AdminAuthenticator {
  private readonly keys: JWTVerifyGetKey | undefined;

  constructor(private readonly config: AdminAuthConfig) {
    if (config.jwks) this.keys = createLocalJWKSet(config.jwks);
    else if (config.jwksUrl) this.keys = createRemoteJWKSet(new URL(config.jwksUrl));
  }

  get configured(): boolean {
    return this.keys !== undefined;
  }

  async authenticate(authorization: string | undefined): Promise<Caller> {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '');
    if (!match) throw unauthenticated('missing_token', 'an Authorization: Bearer <token> header is required');
    if (!this.keys) throw unauthenticated('no_issuer_configured', 'this service trusts no token issuer');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1], this.keys, {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthenticated('token_expired', 'the bearer token has expired');
      if (error instanceof errors.JWTClaimValidationFailed)
        throw unauthenticated('invalid_token', `the bearer token's ${error.claim} claim is not accepted`);
      throw unauthenticated('invalid_token', 'the bearer token does not verify');
    }
    return callerOf(payload);
  }
}

function callerOf(claims: Record<string, unknown>): Caller {
  const { sub, roles, tenant, email } = claims;
  if (typeof sub !== 'string' || sub.trim() === '') throw unauthenticated('invalid_token', 'the token has no subject');
  if (roles !== undefined && (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string')))
    throw unauthenticated('invalid_token', 'the roles claim must be an array of strings');
  const unknown = ((roles as string[] | undefined) ?? []).find((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown !== undefined) throw unauthenticated('unknown_role', `unknown role ${unknown} in the token`);
  if (tenant !== undefined && typeof tenant !== 'string')
    throw unauthenticated('invalid_token', 'the tenant claim must be a string');
  if (email !== undefined && typeof email !== 'string')
    throw unauthenticated('invalid_token', 'the email claim must be a string');
  const caller = { subject: sub, roles: (roles as string[] | undefined) ?? [], tenantId: tenant ?? '' };
  return email === undefined || email.trim() === '' ? caller : { ...caller, email };
}

/** The outcome of authenticating one request: the caller, or why there is none. */
export type Authentication = { readonly caller: Caller } | { readonly error: DomainError };
