import { createPublicKey, JsonWebKey, KeyObject, verify } from 'node:crypto';
import { KeyUse, SigningKeyRetired, SigningKeyRotated } from './gen/warden/registry/v1/registry_pb';

/**
 * Offline verification of agent tokens (ADR 0009), for the gate. Synchronous and free of I/O:
 * the keys come from folding `SigningKeyRotated`/`SigningKeyRetired` (registry.events, key
 * `keys`) with `evolvePublicKeys`, the clock is the request's recorded time, so a replay
 * reproduces the verdict.
 */
export const AGENT_TOKEN_ISSUER = 'warden-registry';
export const AGENT_TOKEN_AUDIENCE = 'warden-gate';

/** A public signing key as announced by the registry (the JWK as JSON text). */
export interface PublicSigningKey {
  readonly kid: string;
  readonly use: KeyUse;
  readonly publicJwk: string;
}

/** The live public keys by kid (retired keys are removed). */
export type PublicKeys = ReadonlyMap<string, PublicSigningKey>;

/** Folds one signing-key event into the live public keys; returns the same map for other events. */
export function evolvePublicKeys(keys: PublicKeys, event: SigningKeyRotated | SigningKeyRetired): PublicKeys {
  const next = new Map(keys);
  if (event.$typeName === 'warden.registry.v1.SigningKeyRotated') {
    next.set(event.kid, { kid: event.kid, use: event.use, publicJwk: event.publicJwk });
  } else {
    next.delete(event.kid);
  }
  return next;
}

export interface AgentTokenClaims {
  readonly iss: string;
  readonly aud: string;
  readonly sub: string;
  readonly tenant: string;
  readonly cid: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
  /** The key the token is bound to (RFC 7800 / RFC 9449): its JWK thumbprint. Empty for unbound tokens. */
  readonly cnf: { readonly jkt: string };
}

export interface AgentTokenExpectation {
  /** The agent and tenant the request names. */
  readonly agentId: string;
  readonly tenantId: string;
  /** The request's recorded time (ms since the epoch). */
  readonly atMs: number;
  /** Ids of revoked credentials (AgentCredentialRevoked.credential_id). */
  readonly revokedCredentials: ReadonlySet<string>;
}

export type AgentTokenVerdict =
  | { readonly ok: true; readonly claims: AgentTokenClaims }
  | { readonly ok: false; readonly reason: AgentTokenFailure; readonly detail: string };

export type AgentTokenFailure =
  | 'token_missing'
  | 'token_malformed'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_agent'
  | 'wrong_tenant'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'credential_revoked'
  | 'token_unbound';

const keyObjects = new Map<string, KeyObject>();

function keyObject(publicJwk: string): KeyObject | undefined {
  let key = keyObjects.get(publicJwk);
  if (!key) {
    try {
      key = createPublicKey({ key: JSON.parse(publicJwk) as JsonWebKey, format: 'jwk' });
    } catch {
      return undefined;
    }
    keyObjects.set(publicJwk, key);
  }
  return key;
}

function part(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const fail = (reason: AgentTokenFailure, detail: string): AgentTokenVerdict => ({ ok: false, reason, detail });

/** Tolerated clock difference between the registry that issued a token and the request's clock. */
const LEEWAY_S = 5;

/**
 * Verifies an agent token for a request: EdDSA signature by a live agent-token key, issuer and
 * audience, `sub`/`tenant` equal to the request's agent and tenant, `exp` after (and `iat` not
 * after) the request's recorded time, credential not revoked, bound to a key (`cnf.jkt`; the
 * request proof then shows possession of it, see proofs.ts). Never throws.
 */
export function verifyAgentToken(token: string, keys: PublicKeys, expect: AgentTokenExpectation): AgentTokenVerdict {
  if (!token) return fail('token_missing', 'the request carries no agent token');
  const pieces = token.split('.');
  if (pieces.length !== 3) return fail('token_malformed', 'an agent token is a compact JWS of three parts');
  const [headerText, payloadText, signature] = pieces;
  const header = part(headerText);
  const claims = part(payloadText);
  if (!header || !claims) return fail('token_malformed', 'the token header or claims are not JSON');
  if (header.alg !== 'EdDSA' || typeof header.kid !== 'string')
    return fail('token_malformed', 'an agent token is signed with EdDSA and names its kid');
  const key = keys.get(header.kid);
  if (!key || key.use !== KeyUse.AGENT_TOKEN)
    return fail('unknown_key', `no live agent-token key ${String(header.kid)}`);
  const publicKey = keyObject(key.publicJwk);
  const signed = Buffer.from(`${headerText}.${payloadText}`, 'utf8');
  if (!publicKey || !verify(null, signed, publicKey, Buffer.from(signature, 'base64url')))
    return fail('bad_signature', 'the token signature does not verify');
  const { iss, aud, sub, tenant, cid, iat, exp, jti } = claims;
  const cnf = claims.cnf as { jkt?: unknown } | undefined;
  const jkt = cnf && typeof cnf.jkt === 'string' ? cnf.jkt : '';
  if (
    typeof sub !== 'string' ||
    typeof tenant !== 'string' ||
    typeof cid !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number' ||
    typeof jti !== 'string'
  )
    return fail('token_malformed', 'the token lacks sub, tenant, cid, iat, exp or jti');
  if (iss !== AGENT_TOKEN_ISSUER) return fail('wrong_issuer', `issuer ${String(iss)} is not ${AGENT_TOKEN_ISSUER}`);
  if (aud !== AGENT_TOKEN_AUDIENCE)
    return fail('wrong_audience', `audience ${String(aud)} is not ${AGENT_TOKEN_AUDIENCE}`);
  if (sub !== expect.agentId) return fail('wrong_agent', `the token is agent ${sub}'s, not ${expect.agentId}'s`);
  if (tenant !== expect.tenantId) return fail('wrong_tenant', `the token is for tenant ${tenant}`);
  const at = expect.atMs / 1000;
  if (exp <= at - LEEWAY_S) return fail('token_expired', `the token expired at ${new Date(exp * 1000).toISOString()}`);
  if (iat > at + LEEWAY_S) return fail('token_not_yet_valid', 'the token was issued after the request');
  if (expect.revokedCredentials.has(cid)) return fail('credential_revoked', `credential ${cid} is revoked`);
  if (!jkt) return fail('token_unbound', 'the token is not bound to a key (cnf.jkt): ask for a DPoP-bound token');
  return { ok: true, claims: { iss, aud, sub, tenant, cid, iat, exp, jti, cnf: { jkt } } };
}
