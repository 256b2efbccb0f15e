import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { decodeProtectedHeader, importJWK, JWK, jwtVerify } from 'jose';
import { CredentialKind, DPOP_TYP, verifyProof } from '@warden/contracts';
import { forbidden, invalid, unauthenticated } from '@warden/kernel';
import { credentialUsable } from '@warden/registry-domain';
import { KeyRing } from './keys';
import { Registry } from './registry';

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: object,
) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1 };

/** `scrypt$N$r$p$salt$hash` (base64url parts) of a secret. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(secret, salt, 32, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Compares a secret with a stored hash in constant time. */
export async function secretMatches(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;
/** A hash of a random secret, compared against when a client secret names no usable credential. */
const decoyHash = (): Promise<string> => (decoy ??= hashSecret(randomBytes(32).toString('base64url')));

/** A new client secret: `<credential id>.<32 random bytes>`; the prefix lets the registry find the credential. */
export const newClientSecret = (credentialId: string): string =>
  `${credentialId}.${randomBytes(32).toString('base64url')}`;

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The audience a client assertion must name. */
export const TOKEN_ENDPOINT_AUDIENCE = 'warden-registry';

export interface TokenRequest {
  /** The DPoP proof (RFC 9449) of the key the token is to be bound to. */
  readonly dpop: string;
  readonly grantType: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly clientAssertionType?: string;
  readonly clientAssertion?: string;
}

export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'DPoP';
  readonly expires_in: number;
}

const refused = () => unauthenticated('invalid_client', 'client authentication failed');

/** How far a DPoP proof's `iat` may be from the registry's clock. */
const DPOP_LEEWAY_S = 300;

/**
 * The token endpoint's logic (OAuth 2.0 client credentials): an agent proves one of its
 * credentials — a client secret, or a client assertion (private_key_jwt, RFC 7523) signed by
 * its registered key — and gets a short-lived agent token. Every failure to prove it looks the
 * same to the caller (invalid_client), so the endpoint tells nothing about which agents exist.
 * Tokens are sender-constrained (docs/adr/0070): the request carries a DPoP proof (RFC 9449) of an
 * Ed25519 key the agent process holds, and the token is bound to its thumbprint (`cnf.jkt`), so a
 * token read anywhere is useless without that key.
 */
export class AgentTokens {
  /** Client-assertion ids seen, until they expire: an assertion is good for one token. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly registry: Registry,
    private readonly keys: KeyRing,
    private readonly ttlSeconds: number,
  ) {}

  async issue(request: TokenRequest): Promise<TokenResponse> {
    if (request.grantType !== 'client_credentials')
      throw invalid('unsupported_grant_type', 'grant_type must be client_credentials', 'grant_type');
    if (!request.clientId) throw invalid('invalid_request', 'client_id is required', 'client_id');
    const jkt = this.dpopKey(request.dpop, Date.now());
    const agent = this.registry.agentHead(request.clientId);
    const authority = this.registry.authority.state(request.clientId);
    const now = Date.now();
    let credentialId: string;
    if (request.clientSecret) {
      credentialId = request.clientSecret.slice(0, Math.max(0, request.clientSecret.lastIndexOf('.')));
      const credential = authority?.credentials.get(credentialId);
      const usable = credential?.kind === CredentialKind.CLIENT_SECRET && credentialUsable(credential, now);
      // The hash is computed whether or not the credential exists, so the answer's timing does not
      // tell which credential ids (and agents) exist.
      const matches = await secretMatches(request.clientSecret, usable ? credential.secretHash : await decoyHash());
      if (!usable || !matches) throw refused();
    } else if (request.clientAssertion) {
      if (request.clientAssertionType !== CLIENT_ASSERTION_TYPE)
        throw invalid(
          'invalid_request',
          `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`,
          'client_assertion_type',
        );
      credentialId = await this.verifyAssertion(request.clientId, request.clientAssertion, now);
    } else {
      throw invalid('invalid_request', 'client_secret or client_assertion is required', 'client_secret');
    }
    if (!agent) throw refused();
    // Only an active agent acts: a draft is not activated yet, a suspended or retired one no longer.
    if (agent.status !== 'active') throw forbidden('agent_not_runnable', `agent ${agent.agentId} is ${agent.status}`);
    const { token, expiresIn } = await this.keys.signAgentToken(
      { agentId: agent.agentId, tenantId: agent.tenantId, credentialId, jkt },
      this.ttlSeconds,
    );
    return { access_token: token, token_type: 'DPoP', expires_in: expiresIn };
  }

  /** The thumbprint of the key a DPoP proof proves possession of, for a POST to the token endpoint. */
  private dpopKey(proof: string, now: number): string {
    const bad = (reason: string) => invalid('invalid_dpop_proof', reason, 'DPoP');
    if (!proof) throw bad('a DPoP proof (RFC 9449) is required in the DPoP header: agent tokens are bound to a key');
    const verdict = verifyProof(proof, DPOP_TYP);
    if (!verdict.ok) throw bad(verdict.reason);
    const { htm, htu, iat, jti } = verdict.claims;
    if (htm !== 'POST') throw bad('htm must be POST');
    if (typeof htu !== 'string' || !/\/oauth\/token$/.test(htu.split('?')[0]))
      throw bad('htu must be the token endpoint');
    if (typeof iat !== 'number' || Math.abs(iat - now / 1000) > DPOP_LEEWAY_S) throw bad('iat is not recent');
    if (typeof jti !== 'string' || jti.length < 8) throw bad('jti is required');
    this.forget(now);
    const id = `dpop/${jti}`;
    if (this.seen.has(id)) throw bad('the proof was used before');
    this.seen.set(id, now + DPOP_LEEWAY_S * 2000);
    return verdict.jkt;
  }

  private forget(now: number): void {
    for (const [jti, until] of this.seen) if (until < now) this.seen.delete(jti);
  }

  private async verifyAssertion(agentId: string, assertion: string, now: number): Promise<string> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(assertion).kid;
    } catch {
      throw refused();
    }
    const credential = kid ? this.registry.authority.state(agentId)?.credentials.get(kid) : undefined;
    if (!credential || credential.kind !== CredentialKind.PUBLIC_KEY || !credentialUsable(credential, now))
      throw refused();
    let payload: { jti?: string; exp?: number };
    try {
      const key = await importJWK(JSON.parse(credential.publicJwk) as JWK, 'EdDSA');
      ({ payload } = await jwtVerify(assertion, key, {
        issuer: agentId,
        subject: agentId,
        audience: TOKEN_ENDPOINT_AUDIENCE,
        algorithms: ['EdDSA'],
        requiredClaims: ['exp', 'jti'],
        maxTokenAge: '5m',
        currentDate: new Date(now),
      }));
    } catch {
      throw refused();
    }
    this.forget(now);
    const jti = `${agentId}/${payload.jti}`;
    if (this.seen.has(jti)) throw refused();
    this.seen.set(jti, (payload.exp ?? 0) * 1000);
    return credential.credentialId;
  }
}
