import { createPublicKey, KeyObject, verify } from 'node:crypto';
import { argumentsDigest } from '@warden/contracts';

/**
 * Tool-side enforcement (docs/protocol.md, "The decision token"; ADR 0120): a tool's own server
 * checks the decision token of every call it receives and refuses the call without a valid one, so
 * an agent that skips the gate gets nothing. The token must verify with a live decision-token key of
 * the registry's JWKS, come from `warden-policy`, name this tool (`aud`) and this action (`act`),
 * bind the digest of the very arguments received (`args`), be unexpired, and not be revoked by a kill
 * switch (the kill switch service's `GET /revocations`).
 */

/** Why a call was refused. */
export type RefusalCode =
  | 'missing_token'
  | 'malformed_token'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_action'
  | 'digest_mismatch'
  | 'wrong_request'
  | 'expired'
  | 'not_yet_valid'
  | 'revoked'
  | 'replayed'
  | 'jwks_unavailable'
  | 'revocations_unavailable';

/** The HTTP status a refusal answers with: 401 without a token, 503 when Warden cannot be asked, else 403. */
export const REFUSAL_STATUS: Readonly<Record<RefusalCode, number>> = {
  missing_token: 401,
  malformed_token: 401,
  unknown_key: 403,
  bad_signature: 403,
  wrong_issuer: 403,
  wrong_audience: 403,
  wrong_action: 403,
  digest_mismatch: 403,
  wrong_request: 403,
  expired: 403,
  not_yet_valid: 403,
  revoked: 403,
  replayed: 403,
  jwks_unavailable: 503,
  revocations_unavailable: 503,
};

/** A refused call: `code` says why, `detail` in words. */
export class DecisionTokenError extends Error {
  readonly status: number;
  constructor(
    readonly code: RefusalCode,
    readonly detail: string,
  ) {
    super(`decision token refused (${code}): ${detail}`);
    this.name = 'DecisionTokenError';
    this.status = REFUSAL_STATUS[code];
  }
}

/** The claims of a decision token (ADR 0009). */
export interface DecisionTokenClaims {
  readonly iss: string;
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

/** The call a tool received, which the token must be for. */
export interface ToolCall {
  readonly tool: string;
  readonly action: string;
  /** The arguments exactly as received (a JSON object); their RFC 8785 digest must be the token's `args`. */
  readonly arguments: unknown;
  /** When the call names its gate request: the token's `rid` must be it. */
  readonly requestId?: string;
}

/** A revocation as `GET /revocations` lists it (ADR 0053). */
export interface Revocation {
  readonly switchId: string;
  readonly scope: {
    readonly tenantId: string;
    readonly agentId: string;
    readonly runId: string;
    readonly tool: string;
  };
  readonly issuedBeforeMs: number;
  readonly revokedAtMs: number;
}

export interface ToolVerifierOptions {
  /** The registry's base URL: keys from `GET <registryUrl>/.well-known/jwks.json`. */
  readonly registryUrl: string;
  /** The kill switch service's base URL: revocations from `GET <killswitchUrl>/revocations`. */
  readonly killswitchUrl: string;
  /**
   * The `Authorization` header for `GET /revocations` (a bearer token with a tenant role, e.g.
   * auditor, of the tool's tenant), or a function that returns a fresh one.
   */
  readonly revocationsAuthorization?: string | (() => string | Promise<string>);
  /** Expected `iss`; default `warden-policy`. */
  readonly issuer?: string;
  /** Clock skew allowed on `exp` and `iat`, in seconds; default 5. */
  readonly clockSkewSec?: number;
  /** Refuse a token seen before (its `jti`), while it is valid; default false (ADR 0120). */
  readonly oneTimeUse?: boolean;
  /** Poll the revocation list at most this often, at verification time; default 2000 ms. */
  readonly revocationsPollMs?: number;
  /** Refuse every call (revocations_unavailable) when the list could not be read for this long; default 30 000 ms. */
  readonly revocationsMaxStaleMs?: number;
  /** Re-read the JWKS for an unknown kid at most this often; default 10 000 ms. */
  readonly jwksMinRefreshMs?: number;
  /** Re-read the JWKS this long after the last read even with known kids (retired keys leave); default 300 000 ms. */
  readonly jwksMaxAgeMs?: number;
  /** The most `jti`s held for one-time use; beyond it calls are refused (replayed) until some expire. Default 100 000. */
  readonly maxReplayEntries?: number;
  /** ms since the epoch; default Date.now. */
  readonly clock?: () => number;
  /** Timeout of each request to the registry or the kill switch service; default 5000 ms. */
  readonly requestTimeoutMs?: number;
}

/** The longest a decision token lives (POLICY_DECISION_TOKEN_TTL_MS's maximum): older revocations can be dropped. */
const MAX_TOKEN_LIFETIME_MS = 3_600_000;

/** The keys of the JWKS: JWKs with `warden_use` `decision_token`. */
interface Jwk {
  readonly kty?: string;
  readonly crv?: string;
  readonly x?: string;
  readonly kid?: string;
  readonly warden_use?: string;
}

const b64json = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verifies decision tokens for a tool server. One per process (it caches the JWKS, the revocation
 * list and, with `oneTimeUse`, the jtis seen). `verifyDecisionToken` resolves with the token's
 * claims or rejects with a `DecisionTokenError`; `guard` and `middleware` do it for Node's http and
 * express-style handlers.
 */
export class ToolVerifier {
  private keys = new Map<string, KeyObject>();
  private keysReadAt = -Infinity;
  private keysInFlight: Promise<void> | undefined;
  private revocations = new Map<string, Revocation>();
  private revocationsReadAt = -Infinity;
  private revocationsInFlight: Promise<void> | undefined;
  private latestRevokedAtMs = 0;
  private etag: string | undefined;
  private readonly seen = new Map<string, number>();
  private readonly clock: () => number;

  constructor(private readonly options: ToolVerifierOptions) {
    if (!options.registryUrl) throw new Error('ToolVerifier needs the registryUrl (the JWKS)');
    if (!options.killswitchUrl) throw new Error('ToolVerifier needs the killswitchUrl (the revocation list)');
    this.clock = options.clock ?? Date.now;
  }

  /** Checks `token` against the call the tool received; resolves with its claims, or rejects with why not. */
  async verifyDecisionToken(token: string | undefined | null, call: ToolCall): Promise<DecisionTokenClaims> {
    if (!token) throw new DecisionTokenError('missing_token', 'the call carries no decision token');
    if (!JWS.test(token)) throw new DecisionTokenError('malformed_token', 'not a compact JWS');
    const [h, p, s] = token.split('.');
    let header: { alg?: unknown; kid?: unknown };
    let claims: DecisionTokenClaims;
    try {
      header = b64json(h) as typeof header;
      claims = b64json(p) as DecisionTokenClaims;
    } catch {
      throw new DecisionTokenError('malformed_token', 'its header or claims are not base64url JSON');
    }
    if (header.alg !== 'EdDSA')
      throw new DecisionTokenError('malformed_token', `alg ${String(header.alg)} is not EdDSA`);
    if (typeof header.kid !== 'string' || !header.kid) throw new DecisionTokenError('malformed_token', 'no kid');
    const key = await this.key(header.kid);
    if (!verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')))
      throw new DecisionTokenError('bad_signature', `the signature does not verify with key ${header.kid}`);
    if (!claims || typeof claims !== 'object')
      throw new DecisionTokenError('malformed_token', 'claims are not an object');

    const issuer = this.options.issuer ?? 'warden-policy';
    if (claims.iss !== issuer)
      throw new DecisionTokenError('wrong_issuer', `issued by ${String(claims.iss)}, not ${issuer}`);
    if (claims.aud !== call.tool)
      throw new DecisionTokenError('wrong_audience', `the token is for ${String(claims.aud)}, not ${call.tool}`);
    if (claims.act !== call.action)
      throw new DecisionTokenError('wrong_action', `the token is for action ${String(claims.act)}, not ${call.action}`);
    let received: string;
    try {
      received = argumentsDigest(call.arguments ?? {});
    } catch (e) {
      throw new DecisionTokenError(
        'digest_mismatch',
        `the arguments have no canonical digest: ${(e as Error).message}`,
      );
    }
    if (claims.args !== received)
      throw new DecisionTokenError(
        'digest_mismatch',
        `the token binds arguments ${String(claims.args)}, the call has ${received}`,
      );
    if (call.requestId !== undefined && claims.rid !== call.requestId)
      throw new DecisionTokenError(
        'wrong_request',
        `the token is for request ${String(claims.rid)}, not ${call.requestId}`,
      );
    for (const name of ['sub', 'tenant', 'run', 'jti'] as const)
      if (typeof claims[name] !== 'string') throw new DecisionTokenError('malformed_token', `claim ${name} is missing`);
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number')
      throw new DecisionTokenError('malformed_token', 'claims exp and iat must be numbers');

    const now = this.clock();
    const skewMs = (this.options.clockSkewSec ?? 5) * 1000;
    if (claims.exp * 1000 + skewMs <= now)
      throw new DecisionTokenError('expired', `expired at ${new Date(claims.exp * 1000).toISOString()}`);
    if (claims.iat * 1000 - skewMs > now)
      throw new DecisionTokenError(
        'not_yet_valid',
        `issued in the future (${new Date(claims.iat * 1000).toISOString()})`,
      );

    const revocation = await this.revokedBy(claims);
    if (revocation)
      throw new DecisionTokenError(
        'revoked',
        `revoked by kill switch ${revocation.switchId} (scope ${JSON.stringify(revocation.scope)})`,
      );

    if (this.options.oneTimeUse) this.spend(claims, now, skewMs);
    return claims;
  }

  /**
   * For a Node http handler: verifies the token of `req` (header `Warden-Decision-Token`, or
   * `Authorization: Bearer`) against `call`; on refusal answers `res` with an
   * application/problem+json body `{status, code, detail}` and resolves undefined.
   */
  async guard(req: HttpRequestLike, res: HttpResponseLike, call: ToolCall): Promise<DecisionTokenClaims | undefined> {
    try {
      return await this.verifyDecisionToken(decisionTokenOf(req), call);
    } catch (error) {
      if (!(error instanceof DecisionTokenError)) throw error;
      res.statusCode = error.status;
      res.setHeader('content-type', 'application/problem+json');
      res.end(
        JSON.stringify({
          title: 'decision token refused',
          status: error.status,
          code: error.code,
          detail: error.detail,
        }),
      );
      return undefined;
    }
  }

  /**
   * Express-style middleware: `describe(req)` says which call `req` is (tool, action, the parsed
   * arguments); an accepted call goes on to `next()` with the claims in `req.warden`.
   */
  middleware<Req extends HttpRequestLike>(
    describe: (req: Req) => ToolCall | Promise<ToolCall>,
  ): (req: Req & { warden?: DecisionTokenClaims }, res: HttpResponseLike, next: (error?: unknown) => void) => void {
    return (req, res, next) => {
      void (async () => {
        const claims = await this.guard(req, res, await describe(req));
        if (claims) {
          req.warden = claims;
          next();
        }
      })().catch(next);
    };
  }

  private async key(kid: string): Promise<KeyObject> {
    const now = this.clock();
    const maxAge = this.options.jwksMaxAgeMs ?? 300_000;
    const minRefresh = this.options.jwksMinRefreshMs ?? 10_000;
    const stale = now - this.keysReadAt >= maxAge;
    // An unknown kid may be a key rotated in since the last read: read again, at most every minRefresh.
    if (stale || (!this.keys.has(kid) && now - this.keysReadAt >= minRefresh)) {
      try {
        await this.refreshKeys();
      } catch (e) {
        // Known keys stay usable while the registry cannot be reached.
        if (!this.keys.has(kid))
          throw new DecisionTokenError('jwks_unavailable', `cannot read the registry's JWKS: ${(e as Error).message}`);
      }
    }
    const key = this.keys.get(kid);
    if (!key) throw new DecisionTokenError('unknown_key', `no live decision-token key ${kid} in the registry's JWKS`);
    return key;
  }

  private refreshKeys(): Promise<void> {
    this.keysInFlight ??= (async () => {
      const url = `${this.options.registryUrl.replace(/\/$/, '')}/.well-known/jwks.json`;
      const res = await fetch(url, { signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5000) });
      if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
      const body = (await res.json()) as { keys?: Jwk[] };
      const keys = new Map<string, KeyObject>();
      for (const jwk of body.keys ?? []) {
        if (jwk.warden_use !== 'decision_token' || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.kid || !jwk.x)
          continue;
        try {
          keys.set(jwk.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }));
        } catch {
          // Not a usable Ed25519 key: it verifies nothing.
        }
      }
      this.keys = keys;
      this.keysReadAt = this.clock();
    })().finally(() => (this.keysInFlight = undefined));
    return this.keysInFlight;
  }

  private async revokedBy(claims: DecisionTokenClaims): Promise<Revocation | undefined> {
    const now = this.clock();
    if (now - this.revocationsReadAt >= (this.options.revocationsPollMs ?? 2000)) {
      try {
        await this.refreshRevocations();
      } catch (e) {
        if (this.clock() - this.revocationsReadAt >= (this.options.revocationsMaxStaleMs ?? 30_000))
          throw new DecisionTokenError(
            'revocations_unavailable',
            `cannot read the kill switch revocation list: ${(e as Error).message}`,
          );
      }
    }
    return isRevoked(this.revocations.values(), claims);
  }

  private refreshRevocations(): Promise<void> {
    this.revocationsInFlight ??= (async () => {
      const base = this.options.killswitchUrl.replace(/\/$/, '');
      const url = `${base}/revocations${this.latestRevokedAtMs ? `?since=${this.latestRevokedAtMs}` : ''}`;
      const auth = this.options.revocationsAuthorization;
      const authorization = typeof auth === 'function' ? await auth() : auth;
      const headers: Record<string, string> = {};
      if (authorization) headers.authorization = authorization;
      if (this.etag) headers['if-none-match'] = this.etag;
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5000) });
      if (res.status !== 304) {
        if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
        const body = (await res.json()) as { revocations?: Revocation[]; latestRevokedAtMs?: number };
        for (const r of body.revocations ?? []) this.revocations.set(r.switchId, r);
        this.latestRevokedAtMs = Math.max(this.latestRevokedAtMs, body.latestRevokedAtMs ?? 0);
        this.etag = res.headers.get('etag') ?? undefined;
      }
      const readAt = this.clock();
      // A revocation older than any token's lifetime voids nothing that could still verify.
      for (const [id, r] of this.revocations)
        if (r.issuedBeforeMs < readAt - MAX_TOKEN_LIFETIME_MS - 60_000) this.revocations.delete(id);
      this.revocationsReadAt = readAt;
    })().finally(() => (this.revocationsInFlight = undefined));
    return this.revocationsInFlight;
  }

  private spend(claims: DecisionTokenClaims, now: number, skewMs: number): void {
    for (const [jti, until] of this.seen) if (until <= now) this.seen.delete(jti);
    if (this.seen.has(claims.jti)) throw new DecisionTokenError('replayed', `decision ${claims.jti} was used already`);
    if (this.seen.size >= (this.options.maxReplayEntries ?? 100_000))
      throw new DecisionTokenError('replayed', 'too many unexpired decisions held for one-time use');
    this.seen.set(claims.jti, claims.exp * 1000 + skewMs);
  }
}

/**
 * ADR 0053: a token is revoked when it was issued before a revocation (`iat*1000 < issuedBeforeMs`)
 * and every scope field that is set matches its claim (`tenant`, `sub`, `run`, `aud`).
 */
export function isRevoked(
  revocations: Iterable<Revocation>,
  claims: Pick<DecisionTokenClaims, 'tenant' | 'sub' | 'run' | 'aud' | 'iat'>,
): Revocation | undefined {
  for (const r of revocations) {
    const s = r.scope;
    if (
      claims.iat * 1000 < r.issuedBeforeMs &&
      (!s.tenantId || s.tenantId === claims.tenant) &&
      (!s.agentId || s.agentId === claims.sub) &&
      (!s.runId || s.runId === claims.run) &&
      (!s.tool || s.tool === claims.aud)
    )
      return r;
  }
  return undefined;
}

/** The parts of Node's IncomingMessage (and express's Request) the guard reads. */
export interface HttpRequestLike {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The parts of Node's ServerResponse (and express's Response) the guard writes. */
export interface HttpResponseLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

/** The HTTP header a call carries its decision token in (or `Authorization: Bearer <token>`). */
export const DECISION_TOKEN_HEADER = 'warden-decision-token';

/** The decision token of an HTTP request: `Warden-Decision-Token`, else `Authorization: Bearer`. */
export function decisionTokenOf(req: HttpRequestLike): string | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const header = first(req.headers[DECISION_TOKEN_HEADER])?.trim();
  if (header) return header;
  const bearer = /^Bearer\s+(\S+)$/i.exec(first(req.headers.authorization) ?? '');
  return bearer?.[1];
}
