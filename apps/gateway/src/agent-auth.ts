import { DPOP_TYP, PublicKeys, tokenHash, verifyAgentToken, verifyProof } from '@warden/contracts';
import { AuthenticatedAgent } from '@warden/gateway-domain';
import { unauthenticated } from '@warden/kernel';

export type { AuthenticatedAgent } from '@warden/gateway-domain';

/**
 * Authentication of an HTTP call by an agent (RFC 9449, DPoP): `Authorization: DPoP <agent token>`
 * and a `DPoP` header with a proof for this very request — signed by the key the token is bound to
 * (`cnf.jkt`), `htm` the method, `htu` the URL called, `ath` the token's hash, a recent `iat` and a
 * `jti` not seen before. The token is verified offline against the registry's keys, as the gate
 * verifies it (libs/contracts/src/agent-token.ts). Every failure is a 401 problem.
 */
export interface HttpCall {
  readonly authorization: string | undefined;
  readonly dpop: string | undefined;
  readonly method: string;
  /** The path called, without the query (e.g. `/v1/gate`). */
  readonly path: string;
}

export interface DpopRules {
  readonly leewaySeconds: number;
  /** The origin clients call (compared with `htu`); empty: only the path is compared. */
  readonly publicUrl: string;
}

const refused = (code: string, message: string) => unauthenticated(code, message);

function claimsOf(token: string): { sub?: unknown; tenant?: unknown } {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub?: unknown;
      tenant?: unknown;
    };
  } catch {
    return {};
  }
}

/** Proof ids seen until their `iat` window has passed: a DPoP proof is good for one call. */
export class SeenProofs {
  private readonly seen = new Map<string, number>();
  constructor(private readonly max = 100_000) {}

  /** False when `jti` was seen (a replay); remembers it until `untilMs` otherwise. */
  remember(jti: string, untilMs: number, nowMs: number): boolean {
    if (this.seen.has(jti)) return false;
    if (this.seen.size >= this.max) for (const [k, until] of this.seen) if (until < nowMs) this.seen.delete(k);
    // Still full: forget the oldest, so the set stays bounded (an old proof's iat is out of window).
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(jti, untilMs);
    return true;
  }
}

export function authenticateAgent(
  call: HttpCall,
  keys: { readonly publicKeys: PublicKeys; readonly revokedCredentials: ReadonlySet<string> },
  rules: DpopRules,
  seen: SeenProofs,
  nowMs: number,
): AuthenticatedAgent {
  const header = call.authorization ?? '';
  const match = /^DPoP\s+([A-Za-z0-9_.-]+)$/i.exec(header.trim());
  if (!header) throw refused('missing_token', 'an Authorization: DPoP <agent token> header is required');
  if (!match) {
    throw refused(
      'invalid_token',
      /^Bearer\s/i.test(header)
        ? 'agent tokens are DPoP-bound: send Authorization: DPoP <token> with a DPoP proof'
        : 'the Authorization header must be DPoP <agent token>',
    );
  }
  const token = match[1];
  const peek = claimsOf(token);
  const verdict = verifyAgentToken(token, keys.publicKeys, {
    agentId: typeof peek.sub === 'string' ? peek.sub : '',
    tenantId: typeof peek.tenant === 'string' ? peek.tenant : '',
    atMs: nowMs,
    revokedCredentials: keys.revokedCredentials,
  });
  if (!verdict.ok) throw refused('invalid_token', `agent token refused (${verdict.reason}): ${verdict.detail}`);
  if (!call.dpop) throw refused('invalid_dpop_proof', 'a DPoP proof (RFC 9449) for this request is required');
  const proof = verifyProof(call.dpop, DPOP_TYP);
  if (!proof.ok) throw refused('invalid_dpop_proof', proof.reason);
  if (proof.jkt !== verdict.claims.cnf.jkt)
    throw refused('invalid_dpop_proof', 'the DPoP proof is signed by another key than the one the token is bound to');
  const { htm, htu, iat, jti, ath } = proof.claims;
  if (htm !== call.method) throw refused('invalid_dpop_proof', `htm must be ${call.method}`);
  if (typeof htu !== 'string' || !htuMatches(htu, call.path, rules.publicUrl))
    throw refused('invalid_dpop_proof', `htu must be the URL called (${rules.publicUrl}${call.path})`);
  if (ath !== tokenHash(token)) throw refused('invalid_dpop_proof', 'ath must be the hash of the agent token');
  if (typeof iat !== 'number' || Math.abs(iat - nowMs / 1000) > rules.leewaySeconds)
    throw refused('invalid_dpop_proof', 'iat is not recent');
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256)
    throw refused('invalid_dpop_proof', 'jti is required');
  if (!seen.remember(`${proof.jkt}/${jti}`, nowMs + rules.leewaySeconds * 2000, nowMs))
    throw refused('invalid_dpop_proof', 'the DPoP proof was used before');
  return { token, claims: verdict.claims, jkt: proof.jkt };
}

function htuMatches(htu: string, path: string, publicUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(htu);
  } catch {
    return false;
  }
  if (url.pathname !== path) return false;
  return !publicUrl || url.origin === new URL(publicUrl).origin;
}
