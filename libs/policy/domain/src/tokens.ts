import { KeyObject, sign, verify } from 'node:crypto';
import { ActionKind, GateRequested, KeyUse } from '@warden/contracts';
import { GateRegistry } from './gate-registry';

/**
 * Agent tokens (verified here) and decision tokens (signed here), in the formats of
 * docs/adr/0009-tokens-and-signing-keys.md. Both are compact JWS with EdDSA (Ed25519), done with
 * node:crypto synchronously so the decision stays a pure, synchronous function: Ed25519 signatures
 * are deterministic, so replaying a decision reproduces its token byte for byte.
 */

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the request's agent token does not prove its agent, or undefined when it does. */
export function agentTokenProblem(
  token: string,
  r: GateRequested,
  registry: GateRegistry,
  now: number,
): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return 'agent token is not a compact JWS';
  const [h, p, s] = parts;
  const header = decodePart(h);
  const claims = decodePart(p);
  if (!header || !claims) return 'agent token is not valid JSON';
  if (header.alg !== 'EdDSA') return `agent token algorithm ${String(header.alg)} is not EdDSA`;
  const key = registry.keys.get(String(header.kid));
  if (!key || key.use !== KeyUse.AGENT_TOKEN) return `agent token key ${String(header.kid)} is unknown`;
  if (key.retired) return `agent token key ${key.kid} is retired`;
  if (!verify(null, Buffer.from(`${h}.${p}`), key.publicKey, Buffer.from(s, 'base64url'))) {
    return 'agent token signature does not verify';
  }
  if (claims.iss !== 'warden-registry') return 'agent token was not issued by the registry';
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes('warden-gate')) return 'agent token is not meant for the gate';
  if (claims.sub !== r.agentId) return `agent token was issued to ${String(claims.sub)}, not ${r.agentId}`;
  if (claims.tenant !== r.tenantId) return `agent token belongs to tenant ${String(claims.tenant)}`;
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now) return 'agent token has expired';
  const credential = registry.credentials.get(String(claims.cid));
  if (!credential || credential.agentId !== r.agentId) return `credential ${String(claims.cid)} is unknown`;
  if (credential.revoked) return `credential ${credential.credentialId} is revoked`;
  if (credential.expiresAtMs > 0 && credential.expiresAtMs <= now) {
    return `credential ${credential.credentialId} has expired`;
  }
  return undefined;
}

/** The key that signs decision tokens, opened by the policy service (it holds the KEK). */
export interface DecisionSigner {
  readonly kid: string;
  readonly privateKey: KeyObject;
}

/** The audience of a decision token: the tool for tool calls, `warden:<action kind>` otherwise. */
export function decisionAudience(r: GateRequested): string {
  if (r.actionKind === ActionKind.TOOL_CALL) return r.tool;
  return `warden:${(ActionKind[r.actionKind] ?? 'unspecified').toLowerCase()}`;
}

export interface DecisionTokenClaims {
  readonly iss: 'warden-policy';
  readonly aud: string;
  readonly sub: string;
  readonly tenant: string;
  readonly act: string;
  readonly args: string;
  readonly rid: string;
  readonly run: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

/** Signs an allow decision's token; `expiresAtMs` is rounded down to whole seconds (JWT `exp`). */
export function signDecisionToken(
  signer: DecisionSigner,
  r: GateRequested,
  decisionId: string,
  now: number,
  expiresAtMs: number,
): string {
  const claims: DecisionTokenClaims = {
    iss: 'warden-policy',
    aud: decisionAudience(r),
    sub: r.agentId,
    tenant: r.tenantId,
    act: r.action,
    args: r.argumentsDigest,
    rid: r.requestId,
    run: r.runId,
    jti: decisionId,
    iat: Math.floor(now / 1000),
    exp: Math.floor(expiresAtMs / 1000),
  };
  const signingInput = `${b64({ alg: 'EdDSA', kid: signer.kid, typ: 'JWT' })}.${b64(claims)}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), signer.privateKey).toString('base64url')}`;
}
