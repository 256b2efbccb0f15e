import { KeyObject, sign } from 'node:crypto';
import { ActionKind, AgentTokenClaims, GateRequested, requestProofProblem, verifyAgentToken } from '@warden/contracts';
import { GateRegistry } from './gate-registry';

/**
 * Agent tokens (verified here) and decision tokens (signed here), in the formats of
 * docs/adr/0009-tokens-and-signing-keys.md. Both are compact JWS with EdDSA (Ed25519), done with
 * node:crypto synchronously so the decision stays a pure, synchronous function: Ed25519 signatures
 * are deterministic, so replaying a decision reproduces its token byte for byte.
 */

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Whether the request's agent token and request proof prove its agent: the shared verifier
 * (`verifyAgentToken`, the registry's format) checks signature, issuer, audience, agent, tenant,
 * expiry and the key binding (`cnf.jkt`); the request proof must be signed by that key over this
 * very request (docs/protocol.md); the credential is then checked against the gate's full
 * credential table (unknown, another agent's, revoked, expired).
 */
export function agentTokenCheck(
  token: string,
  r: GateRequested,
  registry: GateRegistry,
  now: number,
): { readonly ok: true; readonly claims: AgentTokenClaims } | { readonly ok: false; readonly reason: string } {
  const verdict = verifyAgentToken(token, registry.publicKeys, {
    agentId: r.agentId,
    tenantId: r.tenantId,
    atMs: now,
    revokedCredentials: NO_REVOCATIONS,
  });
  if (!verdict.ok) return { ok: false, reason: `agent token refused (${verdict.reason}): ${verdict.detail}` };
  const proof = requestProofProblem(r, verdict.claims.cnf.jkt);
  if (proof) return { ok: false, reason: proof };
  const cid = verdict.claims.cid;
  const credential = registry.credentials.get(cid);
  if (!credential || credential.agentId !== r.agentId) return { ok: false, reason: `credential ${cid} is unknown` };
  if (credential.revoked) return { ok: false, reason: `credential ${credential.credentialId} is revoked` };
  if (credential.expiresAtMs > 0 && credential.expiresAtMs <= now) {
    return { ok: false, reason: `credential ${credential.credentialId} has expired` };
  }
  return { ok: true, claims: verdict.claims };
}

/** Revocations are read from the credential table instead (it also knows unknown and expired ones). */
const NO_REVOCATIONS: ReadonlySet<string> = new Set();

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
