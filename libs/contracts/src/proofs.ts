import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  JsonWebKey,
  KeyObject,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import { canonicalJson } from './canonical-json';
import {
  ActionKind,
  DataClass,
  GateRequested,
  MemoryClass,
  StepCompleted,
  StepFailed,
} from './gen/warden/gate/v1/gate_pb';

/**
 * Proofs of possession (docs/adr/0070, docs/protocol.md "Proofs"). An agent process holds an
 * Ed25519 key; the registry binds its agent tokens to the key's JWK thumbprint (`cnf.jkt`, from a
 * DPoP proof at the token endpoint, RFC 9449). Every gate request carries a request proof and every
 * outcome an outcome proof: compact JWS by that key, with the public JWK in the header, over the
 * SHA-256 of the RFC 8785 canonical JSON of the request's (or outcome's) fields. A token copied off
 * a topic is useless without the key; a proof is useless for any other request.
 */
export const REQUEST_PROOF_TYP = 'warden-request+jwt';
export const OUTCOME_PROOF_TYP = 'warden-outcome+jwt';
export const DPOP_TYP = 'dpop+jwt';

/** A public Ed25519 JWK. */
export interface PublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
}

/**
 * The key an agent process proves possession of: its agent tokens are bound to it, and it signs
 * every request and outcome. Made fresh per client and never sent anywhere; only its public JWK
 * travels, in proof headers.
 */
export interface ProofKey {
  readonly privateKey: KeyObject;
  readonly jwk: PublicJwk;
}

export function newProofKey(): ProofKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const x = (publicKey.export({ format: 'jwk' }) as JsonWebKey).x as string;
  return { privateKey, jwk: { kty: 'OKP', crv: 'Ed25519', x } };
}

/**
 * A DPoP proof (RFC 9449) for a POST to `url`, by `key`; for a call made with `accessToken`, it
 * carries the token's hash as `ath` (section 7).
 */
export function dpopProof(key: ProofKey, url: string, nowMs: number, accessToken?: string): string {
  return signProof(
    DPOP_TYP,
    {
      jti: randomUUID(),
      htm: 'POST',
      htu: url.split('?')[0],
      iat: Math.floor(nowMs / 1000),
      ...(accessToken === undefined ? {} : { ath: tokenHash(accessToken) }),
    },
    key,
  );
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8');

/** RFC 7638 JWK thumbprint of an Ed25519 key. */
export function jwkThumbprint(jwk: PublicJwk): string {
  return sha256(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url');
}

/** base64url(SHA-256) of an access token, as in DPoP's `ath`. */
export function tokenHash(token: string): string {
  return sha256(token).digest('base64url');
}

const shortName = (e: Record<number, string>, v: number) => (v === 0 ? '' : (e[v] ?? '').toLowerCase());

/**
 * The fields a request proof covers, after the gate's defaults (docs/protocol.md lists them): every
 * field that can change a decision. Raw arguments are covered by their digest.
 */
export function requestProofInput(r: GateRequested): Record<string, unknown> {
  return {
    requestId: r.requestId,
    idempotencyKey: r.idempotencyKey,
    stepId: r.stepId,
    attempt: r.attempt,
    requestedAtMs: r.requestedAtMs,
    deadlineMs: r.deadlineMs,
    tenantId: r.tenantId,
    agentId: r.agentId,
    runId: r.runId,
    parentStepId: r.parentStepId,
    actionKind: shortName(ActionKind, r.actionKind),
    tool: r.tool,
    action: r.action,
    argumentsDigest: r.argumentsDigest,
    dataClasses: r.dataClasses.map((c) => shortName(DataClass, c)),
    estimatedTokens: r.estimatedTokens,
    estimatedCost: r.estimatedCost ? { currency: r.estimatedCost.currency, micros: r.estimatedCost.micros } : null,
    onBehalfOf: r.onBehalfOf,
    environment: r.environment,
    model: r.model,
    memoryStore: r.memoryStore,
    memoryClass: shortName(MemoryClass, r.memoryClass),
    delegateToAgentId: r.delegateToAgentId,
    businessOutcome: r.businessOutcome,
    agentTokenHash: r.agentToken ? tokenHash(r.agentToken) : '',
  };
}

/** The fields an outcome proof covers. */
export function outcomeProofInput(o: StepCompleted | StepFailed): Record<string, unknown> {
  const completed = o.$typeName === 'warden.gate.v1.StepCompleted';
  return {
    status: completed ? 'completed' : 'failed',
    requestId: o.requestId,
    tenantId: o.tenantId,
    agentId: o.agentId,
    runId: o.runId,
    stepId: o.stepId,
    idempotencyKey: o.idempotencyKey,
    actualTokens: o.actualTokens,
    actualCost: o.actualCost ? { currency: o.actualCost.currency, micros: o.actualCost.micros } : null,
    durationMs: o.durationMs,
    resultDigest: completed ? (o as StepCompleted).resultDigest : '',
    error: completed ? '' : (o as StepFailed).error,
    retryable: completed ? false : (o as StepFailed).retryable,
  };
}

/** `sha256:` + hex SHA-256 of the canonical JSON of a proof's input. */
export function proofDigest(input: Record<string, unknown>): string {
  return `sha256:${sha256(canonicalJson(input)).digest('hex')}`;
}

/** Signs a compact JWS (EdDSA) with the public key in its header. */
export function signProof(typ: string, claims: Record<string, unknown>, key: ProofKey): string {
  const header = b64url(JSON.stringify({ alg: 'EdDSA', typ, jwk: key.jwk }));
  const payload = b64url(JSON.stringify(claims));
  const input = `${header}.${payload}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

export function requestProof(r: GateRequested, key: ProofKey): string {
  return signProof(
    REQUEST_PROOF_TYP,
    { rid: r.requestId, req: proofDigest(requestProofInput(r)), iat: Math.floor(r.requestedAtMs / 1000) },
    key,
  );
}

export function outcomeProof(o: StepCompleted | StepFailed, key: ProofKey): string {
  return signProof(OUTCOME_PROOF_TYP, { rid: o.requestId, out: proofDigest(outcomeProofInput(o)) }, key);
}

export type ProofVerdict =
  | { readonly ok: true; readonly jkt: string; readonly jwk: PublicJwk; readonly claims: Record<string, unknown> }
  | { readonly ok: false; readonly reason: string };

const keyObjects = new Map<string, KeyObject>();

function publicKeyOf(jwk: PublicJwk): KeyObject | undefined {
  let key = keyObjects.get(jwk.x);
  if (!key) {
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x } as JsonWebKey, format: 'jwk' });
    } catch {
      return undefined;
    }
    if (keyObjects.size > 10_000) keyObjects.clear();
    keyObjects.set(jwk.x, key);
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

/**
 * Verifies a compact JWS signed by the Ed25519 key in its own header (`jwk`), of the given `typ`.
 * It proves possession of that key only: the caller checks that the key is the one it expects.
 */
export function verifyProof(proof: string, typ: string): ProofVerdict {
  const pieces = proof.split('.');
  if (pieces.length !== 3) return { ok: false, reason: 'a proof is a compact JWS of three parts' };
  const [h, p, s] = pieces;
  const header = part(h);
  const claims = part(p);
  if (!header || !claims) return { ok: false, reason: 'the proof header or claims are not JSON' };
  if (header.typ !== typ) return { ok: false, reason: `the proof's typ is ${String(header.typ)}, not ${typ}` };
  if (header.alg !== 'EdDSA') return { ok: false, reason: 'a proof is signed with EdDSA' };
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (!jwk || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || 'd' in jwk) {
    return { ok: false, reason: 'the proof header carries no public Ed25519 jwk' };
  }
  const publicJwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  const key = publicKeyOf(publicJwk);
  if (!key || !verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) {
    return { ok: false, reason: 'the proof signature does not verify' };
  }
  return { ok: true, jkt: jwkThumbprint(publicJwk), jwk: publicJwk, claims };
}

/**
 * Why a request's proof does not prove it for the key `jkt` (the agent token's `cnf.jkt`), or
 * undefined when it does.
 */
export function requestProofProblem(r: GateRequested, jkt: string): string | undefined {
  if (!r.requestProof) return 'the request carries an agent token but no request_proof';
  const v = verifyProof(r.requestProof, REQUEST_PROOF_TYP);
  if (!v.ok) return `request proof refused: ${v.reason}`;
  if (v.jkt !== jkt) return 'the request proof is signed by another key than the one the agent token is bound to';
  if (v.claims.rid !== r.requestId) return `the request proof is for request ${String(v.claims.rid)}`;
  if (v.claims.req !== proofDigest(requestProofInput(r))) {
    return 'the request proof does not cover this request (a field differs from what the agent signed)';
  }
  return undefined;
}

/** Why an outcome's proof is not by the key that proved its request (`jwk`), or undefined when it is. */
export function outcomeProofProblem(o: StepCompleted | StepFailed, jkt: string): string | undefined {
  if (!o.outcomeProof) return 'the outcome carries no outcome_proof, and its request was proved';
  const v = verifyProof(o.outcomeProof, OUTCOME_PROOF_TYP);
  if (!v.ok) return `outcome proof refused: ${v.reason}`;
  if (v.jkt !== jkt) return "the outcome proof is signed by another key than its request's";
  if (v.claims.rid !== o.requestId || v.claims.out !== proofDigest(outcomeProofInput(o))) {
    return 'the outcome proof does not cover this outcome';
  }
  return undefined;
}

/** The JWK thumbprint of the key that signed a request's proof (unverified), or '' without one. */
export function proofKeyThumbprint(proof: string): string {
  const header = part(proof.split('.')[0] ?? '');
  const jwk = header?.jwk as Record<string, unknown> | undefined;
  return jwk && typeof jwk.x === 'string' ? jwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }) : '';
}
