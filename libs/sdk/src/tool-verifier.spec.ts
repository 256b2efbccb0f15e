import { generateKeyPairSync, JsonWebKey, KeyObject, sign } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { argumentsDigest } from '@warden/contracts';
import { DecisionTokenClaims, DecisionTokenError, Revocation, ToolVerifier } from './tool-verifier';

/**
 * The verifier against a local registry JWKS and a local revocation list over real HTTP, with
 * decision tokens signed here by keys generated here, in the policy service's format (ADR 0009).
 */
describe('ToolVerifier', () => {
  let server: Server;
  let url = '';
  const keys = new Map<string, KeyObject>();
  let published: string[] = [];
  let revocations: Revocation[] = [];
  let revocationsStatus = 200;
  const requests: { path: string; headers: IncomingMessage['headers'] }[] = [];
  let now = 1_700_000_000_000;

  const newKey = (kid: string) => keys.set(kid, generateKeyPairSync('ed25519').privateKey);
  const jwk = (kid: string) => {
    const { x } = keys.get(kid)!.export({ format: 'jwk' }) as JsonWebKey;
    return { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig', warden_use: 'decision_token' };
  };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push({ path: req.url ?? '', headers: req.headers });
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/jwks.json') {
        // An agent-token key is in the JWKS too: it must never verify a decision token.
        const agentKey = { ...jwk('agent-1'), warden_use: 'agent_token' };
        res.end(JSON.stringify({ keys: [...published.map(jwk), agentKey] }));
        return;
      }
      if (req.url?.startsWith('/revocations')) {
        const since = Number(new URL(req.url, 'http://x').searchParams.get('since') ?? 0);
        const list = revocations.filter((r) => r.revokedAtMs >= since);
        const etag = `"${list.map((r) => r.switchId).join(',')}"`;
        res.setHeader('etag', etag);
        if (revocationsStatus !== 200) res.statusCode = revocationsStatus;
        else if (req.headers['if-none-match'] === etag) res.statusCode = 304;
        res.end(
          res.statusCode === 304
            ? undefined
            : JSON.stringify({ revocations: list, latestRevokedAtMs: Math.max(0, ...list.map((r) => r.revokedAtMs)) }),
        );
        return;
      }
      res.statusCode = 404;
      res.end('{}');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  beforeEach(() => {
    keys.clear();
    newKey('dt-1');
    newKey('agent-1');
    published = ['dt-1'];
    revocations = [];
    revocationsStatus = 200;
    requests.length = 0;
    now = 1_700_000_000_000;
  });

  const args = { ticket: 42, note: 'customer asked twice' };
  const claims = (over: Record<string, unknown> = {}) => ({
    iss: 'warden-policy',
    aud: 'tickets',
    sub: 'tool-bot',
    tenant: 'acme',
    act: 'read',
    args: argumentsDigest(args),
    rid: 'r-1',
    run: 'run-1',
    jti: 'd-1',
    iat: Math.floor(now / 1000),
    exp: Math.floor(now / 1000) + 60,
    ...over,
  });
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const tokenOf = (c: object, kid = 'dt-1') => {
    const input = `${b64({ alg: 'EdDSA', kid, typ: 'JWT' })}.${b64(c)}`;
    return `${input}.${sign(null, Buffer.from(input), keys.get(kid)!).toString('base64url')}`;
  };
  const verifier = (extra: Partial<ConstructorParameters<typeof ToolVerifier>[0]> = {}) =>
    new ToolVerifier({
      registryUrl: url,
      killswitchUrl: url,
      revocationsAuthorization: 'Bearer reader',
      clock: () => now,
      ...extra,
    });
  const call = { tool: 'tickets', action: 'read', arguments: args };
  const refusal = async (p: Promise<unknown>) => {
    const e = await p.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(e).toBeInstanceOf(DecisionTokenError);
    return (e as DecisionTokenError).code;
  };

  it('accepts a valid token for the call and returns its claims; reads the list with the authorization given', async () => {
    const v = verifier();
    await expect(v.verifyDecisionToken(tokenOf(claims()), call)).resolves.toMatchObject({
      rid: 'r-1',
      sub: 'tool-bot',
    });
    // Key order and number spelling of the arguments do not matter: the digest is RFC 8785's.
    await expect(
      v.verifyDecisionToken(tokenOf(claims()), { ...call, arguments: { note: 'customer asked twice', ticket: 42.0 } }),
    ).resolves.toBeDefined();
    expect(requests.find((r) => r.path.startsWith('/revocations'))?.headers.authorization).toBe('Bearer reader');
  });

  it('refuses a missing, malformed or tampered token', async () => {
    const v = verifier();
    expect(await refusal(v.verifyDecisionToken(undefined, call))).toBe('missing_token');
    expect(await refusal(v.verifyDecisionToken('', call))).toBe('missing_token');
    expect(await refusal(v.verifyDecisionToken('not-a-jwt', call))).toBe('malformed_token');
    const [h, , s] = tokenOf(claims()).split('.');
    // The claims of another call under the first one's signature.
    expect(await refusal(v.verifyDecisionToken(`${h}.${b64(claims({ act: 'write' }))}.${s}`, call))).toBe(
      'bad_signature',
    );
    const unsigned = `${b64({ alg: 'none', kid: 'dt-1' })}.${b64(claims())}.${s}`;
    expect(await refusal(v.verifyDecisionToken(unsigned, call))).toBe('malformed_token');
  });

  it('refuses another issuer, another tool, another action, other arguments and another request', async () => {
    const v = verifier();
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims({ iss: 'someone' })), call))).toBe('wrong_issuer');
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims({ aud: 'files' })), call))).toBe('wrong_audience');
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims({ act: 'write' })), call))).toBe('wrong_action');
    const changed = { ...call, arguments: { ...args, ticket: 43 } };
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims()), changed))).toBe('digest_mismatch');
    const unrepresentable = { ...call, arguments: { ticket: 2n ** 60n } };
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims()), unrepresentable))).toBe('digest_mismatch');
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims()), { ...call, requestId: 'r-2' }))).toBe(
      'wrong_request',
    );
    await expect(v.verifyDecisionToken(tokenOf(claims()), { ...call, requestId: 'r-1' })).resolves.toBeDefined();
  });

  it('refuses an expired token, with the configured clock-skew leeway', async () => {
    const token = tokenOf(claims({ exp: Math.floor(now / 1000) - 3 }));
    await expect(verifier().verifyDecisionToken(token, call)).resolves.toBeDefined();
    expect(await refusal(verifier({ clockSkewSec: 0 }).verifyDecisionToken(token, call))).toBe('expired');
    expect(
      await refusal(verifier().verifyDecisionToken(tokenOf(claims({ exp: Math.floor(now / 1000) - 6 })), call)),
    ).toBe('expired');
    expect(
      await refusal(verifier().verifyDecisionToken(tokenOf(claims({ iat: Math.floor(now / 1000) + 60 })), call)),
    ).toBe('not_yet_valid');
  });

  it('reads the JWKS again for an unknown kid (a rotated-in key), at most every jwksMinRefreshMs', async () => {
    const v = verifier();
    await v.verifyDecisionToken(tokenOf(claims()), call);
    newKey('dt-2');
    const jwksReads = () => requests.filter((r) => r.path === '/.well-known/jwks.json').length;
    // Not in the JWKS yet: refused as unknown, and the next unknown kid does not read it again at once.
    now += 11_000;
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims(), 'dt-2'), call))).toBe('unknown_key');
    expect(jwksReads()).toBe(2);
    published = ['dt-1', 'dt-2'];
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims(), 'dt-2'), call))).toBe('unknown_key');
    expect(jwksReads()).toBe(2);
    now += 10_000;
    await expect(
      v.verifyDecisionToken(tokenOf(claims({ iat: Math.floor(now / 1000) }), 'dt-2'), call),
    ).resolves.toBeDefined();
    expect(jwksReads()).toBe(3);
    // An agent-token key of the same JWKS verifies no decision token.
    expect(await refusal(v.verifyDecisionToken(tokenOf(claims(), 'agent-1'), call))).toBe('unknown_key');
  });

  it('refuses a token a kill switch revoked, polling the list with since and If-None-Match', async () => {
    const v = verifier({ revocationsPollMs: 1000 });
    const token = tokenOf(claims());
    await v.verifyDecisionToken(token, call);
    // Another agent's revocation voids nothing of this one.
    const scope = { tenantId: 'acme', agentId: '', runId: '', tool: '' };
    revocations = [
      {
        switchId: 'ks-other',
        scope: { ...scope, agentId: 'other-bot' },
        issuedBeforeMs: now + 500,
        revokedAtMs: now + 500,
      },
    ];
    now += 1000;
    await expect(v.verifyDecisionToken(token, call)).resolves.toBeDefined();
    revocations = [
      { switchId: 'ks-run', scope: { ...scope, runId: 'run-1' }, issuedBeforeMs: now + 500, revokedAtMs: now + 500 },
      ...revocations,
    ];
    // Within the poll interval the list is not read again.
    expect(await v.verifyDecisionToken(token, call)).toBeDefined();
    now += 1000;
    expect(await refusal(v.verifyDecisionToken(token, call))).toBe('revoked');
    // A token issued after the revocation is not void.
    await expect(
      v.verifyDecisionToken(tokenOf(claims({ iat: Math.floor(now / 1000) + 1 })), call),
    ).resolves.toBeDefined();
    const reads = requests.filter((r) => r.path.startsWith('/revocations'));
    expect(reads.map((r) => r.path)).toEqual(['/revocations', '/revocations', `/revocations?since=${now - 1500}`]);
    now += 1000;
    expect(await refusal(v.verifyDecisionToken(token, call))).toBe('revoked');
    const last = requests.filter((r) => r.path.startsWith('/revocations')).at(-1)!;
    expect(last.headers['if-none-match']).toBe('"ks-run,ks-other"');
  });

  it('fails closed when the revocation list cannot be read for revocationsMaxStaleMs', async () => {
    const v = verifier({ revocationsPollMs: 1000, revocationsMaxStaleMs: 5000 });
    const token = tokenOf(claims({ exp: Math.floor(now / 1000) + 600 }));
    await v.verifyDecisionToken(token, call);
    revocationsStatus = 500;
    now += 2000;
    await expect(v.verifyDecisionToken(token, call)).resolves.toBeDefined();
    now += 4000;
    expect(await refusal(v.verifyDecisionToken(token, call))).toBe('revocations_unavailable');
    expect(await refusal(verifier().verifyDecisionToken(token, call))).toBe('revocations_unavailable');
  });

  it('with oneTimeUse, refuses a second use of the same decision while it is valid', async () => {
    const v = verifier({ oneTimeUse: true });
    const token = tokenOf(claims());
    await v.verifyDecisionToken(token, call);
    expect(await refusal(v.verifyDecisionToken(token, call))).toBe('replayed');
    await expect(verifier().verifyDecisionToken(token, call)).resolves.toBeDefined();
  });

  it('guards a Node http handler: 401/403 problem+json with the code, the handler runs only when accepted', async () => {
    const v = verifier();
    const ran: string[] = [];
    const tool = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        void v.guard(req, res, { tool: 'tickets', action: 'read', arguments: JSON.parse(body || '{}') }).then((c) => {
          if (!c) return;
          ran.push(c.rid);
          res.setHeader('content-type', 'application/json');
          res.end('{"status":"open"}');
        });
      });
    });
    await new Promise<void>((done) => tool.listen(0, '127.0.0.1', done));
    const at = `http://127.0.0.1:${(tool.address() as AddressInfo).port}`;
    const post = (headers: Record<string, string>, body: object) =>
      fetch(at, { method: 'POST', headers, body: JSON.stringify(body) }).then(async (r) => ({
        status: r.status,
        type: r.headers.get('content-type'),
        body: (await r.json()) as Record<string, unknown>,
      }));
    try {
      expect(await post({}, args)).toMatchObject({ status: 401, body: { code: 'missing_token' } });
      const changed = await post({ 'warden-decision-token': tokenOf(claims()) }, { ...args, ticket: 1 });
      expect(changed).toMatchObject({
        status: 403,
        type: 'application/problem+json',
        body: { code: 'digest_mismatch' },
      });
      expect(await post({ authorization: `Bearer ${tokenOf(claims())}` }, args)).toMatchObject({
        status: 200,
        body: { status: 'open' },
      });
      expect(ran).toEqual(['r-1']);
    } finally {
      await new Promise<void>((done) => tool.close(() => done()));
    }
  });

  it('as express-style middleware: next() with req.warden when accepted, an answer and no next() when refused', async () => {
    const v = verifier();
    const mw = v.middleware((req: { headers: Record<string, string>; body: unknown }) => ({
      tool: 'tickets',
      action: 'read',
      arguments: req.body,
    }));
    const response = () => {
      const r = { statusCode: 200, headers: {} as Record<string, string>, body: '' };
      return Object.assign(r, {
        setHeader: (n: string, value: string) => (r.headers[n] = value),
        end: (b?: string) => (r.body = b ?? ''),
      });
    };
    const run = (req: { headers: Record<string, string>; body: unknown; warden?: DecisionTokenClaims }) =>
      new Promise<{ next: boolean; res: ReturnType<typeof response> }>((done) => {
        const res = response();
        const origEnd = res.end;
        res.end = (b?: string) => {
          origEnd(b);
          done({ next: false, res });
          return b ?? '';
        };
        mw(req, res, () => done({ next: true, res }));
      });
    const ok = { headers: { 'warden-decision-token': tokenOf(claims()) }, body: args } as {
      headers: Record<string, string>;
      body: unknown;
      warden?: DecisionTokenClaims;
    };
    expect((await run(ok)).next).toBe(true);
    expect(ok.warden?.rid).toBe('r-1');
    const refused = await run({ headers: { 'warden-decision-token': tokenOf(claims({ aud: 'files' })) }, body: args });
    expect(refused.next).toBe(false);
    expect(refused.res.statusCode).toBe(403);
    expect(JSON.parse(refused.res.body)).toMatchObject({ code: 'wrong_audience' });
  });
});
