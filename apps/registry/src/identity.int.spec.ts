import { generateKeyPairSync, KeyObject, randomBytes, sign as signBytes } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import {
  create,
  dpopProof,
  encode,
  jwkThumbprint,
  KeyUse,
  newProofKey,
  PublicKeys,
  SigningKeyRotated,
  SigningKeyRotatedSchema,
  Topic,
  verifyAgentToken,
} from '@warden/contracts';
import {
  AUTHORITY_HEADERS,
  AUTHORITY_OWNERS,
  AuthorityVerifier,
  callerHeaders,
  deriveAuthorityKey,
  DEV_AUDIENCE,
  DEV_ISSUER,
  DEV_KEY_ENCRYPTION_KEY,
  devToken,
  DLQ,
  KafkaPort,
  parseAuthorityJwks,
  parseKek,
} from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  InProcessService,
  signedAsOwners,
  startInProcess,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readRegistryConfig } from './config';
import { registryService } from './service';

type Body = Record<string, unknown> & { status?: number; code?: string; field?: string };

describe('registry identity, tool contracts and keys (HTTP, real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('registry-id');
  let db: { url: string; drop(): Promise<void> };
  let service: InProcessService;
  let port: KafkaPort;
  let recorder: TopicRecorder;

  const who = {
    admin: { subject: 'alice', roles: 'admin', tenant: 'acme' },
    owner: { subject: 'olga', roles: 'owner', tenant: 'acme' },
    approver: { subject: 'ann', roles: 'approver', tenant: 'acme' },
    auditor: { subject: 'aud', roles: 'auditor', tenant: 'acme' },
    globex: { subject: 'gina', roles: 'admin', tenant: 'globex' },
    platform: { subject: 'pat', roles: 'platform-admin', tenant: 'acme' },
  };
  type Who = (typeof who)[keyof typeof who] | { raw: string };

  const start = () =>
    startInProcess(readRegistryConfig, registryService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
    });

  const call = async (caller: Who | undefined, method: string, path: string, body?: unknown) => {
    const auth = !caller ? {} : 'raw' in caller ? { authorization: caller.raw } : await callerHeaders(caller);
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...auth },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Body & Body[] };
  };
  /** The agent process's key: every token is bound to it by a DPoP proof. */
  const proofKey = newProofKey();
  const token = async (form: Record<string, string>, dpop: string | null = 'fresh') => {
    const url = `${service.url}/oauth/token`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(dpop === null ? {} : { dpop: dpop === 'fresh' ? dpopProof(proofKey, url, Date.now()) : dpop }),
      },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
  const jwksKeys = async (): Promise<PublicKeys> => {
    const { keys } = (await (await fetch(`${service.url}/.well-known/jwks.json`)).json()) as {
      keys: (Record<string, string> & { kid: string; warden_use: string })[];
    };
    const use = (name: string) => (name === 'agent_token' ? KeyUse.AGENT_TOKEN : KeyUse.DECISION_TOKEN);
    // The token keys; the services' authority keys (authority:<service>) are tested on their own.
    const tokenKeys = keys.filter((k) => !k.warden_use.startsWith('authority:'));
    return new Map(tokenKeys.map((k) => [k.kid, { kid: k.kid, use: use(k.warden_use), publicJwk: JSON.stringify(k) }]));
  };
  const verify = async (jwt: string, agentId = 'ticket-bot', revoked: string[] = []) =>
    verifyAgentToken(jwt, await jwksKeys(), {
      agentId,
      tenantId: 'acme',
      atMs: Date.now(),
      revokedCredentials: new Set(revoked),
    });

  const tickets = {
    tool: 'tickets',
    description: 'The ticket system',
    capabilities: ['read tickets', 'close tickets'],
    mustNever: ['delete tickets'],
    inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    dataClassesIn: ['internal', 'pii'],
    dataClassesOut: ['internal'],
    rateLimit: { calls: 10, windowMs: 60000 },
    actions: [
      { name: 'read', riskClass: 'low', auditEvent: 'tickets.read' },
      { name: 'close', riskClass: 'high', requiresApproval: true, auditEvent: 'tickets.closed' },
    ],
    ownerTeam: 'support',
    reason: 'first contract',
  };
  const agentProfile = {
    mission: 'answer tickets',
    owner: { team: 'support' },
    environments: ['prod'],
    autonomyLevel: 2,
    shutdownPath: 'disable the ticket connector',
  };
  let v1Digest = '';

  beforeAll(async () => {
    db = await freshDatabase('registry_id');
    service = await start();
    port = await connectedPort('registry-id-test');
    recorder = await TopicRecorder.start(port, prefix, [Topic.registryEvents]);
  });
  afterAll(async () => {
    await service?.close();
    await recorder?.stop();
    await port?.close();
    await db?.drop();
  });

  describe('admin authentication', () => {
    it('refuses no token, a forged, an expired, a wrong-audience token and unknown roles with 401', async () => {
      expect((await call(undefined, 'GET', '/agents')).body).toMatchObject({ status: 401, code: 'missing_token' });
      const forger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const forged = await new SignJWT({ roles: ['admin'], tenant: 'acme' })
        .setProtectedHeader({ alg: 'EdDSA', kid: 'warden-dev-1' })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('1h')
        .sign(forger.privateKey);
      expect((await call({ raw: `Bearer ${forged}` }, 'GET', '/agents')).body).toMatchObject({
        status: 401,
        code: 'invalid_token',
      });
      const expired = await devToken({ subject: 'olga', roles: ['owner'], tenant: 'acme', ttlSeconds: -120 });
      expect((await call({ raw: `Bearer ${expired}` }, 'GET', '/agents')).body).toMatchObject({
        status: 401,
        code: 'token_expired',
      });
      const unknownRole = await devToken({ subject: 'olga', roles: ['root'], tenant: 'acme' });
      expect((await call({ raw: `Bearer ${unknownRole}` }, 'GET', '/agents')).body).toMatchObject({
        status: 401,
        code: 'unknown_role',
      });
      expect((await call({ raw: 'Basic b2xnYTpwdw==' }, 'GET', '/agents')).status).toBe(401);
    });
  });

  describe('signing keys', () => {
    it('creates one key per use at first start and serves them as a JWKS; private keys travel sealed', async () => {
      const keys = await jwksKeys();
      expect([...keys.values()].map((k) => k.use).sort()).toEqual([KeyUse.AGENT_TOKEN, KeyUse.DECISION_TOKEN]);
      for (const key of keys.values()) expect(JSON.parse(key.publicJwk)).not.toHaveProperty('d');
      const rotated = await eventually(() => {
        const events = recorder.events(Topic.registryEvents).filter((e) => e.type.endsWith('SigningKeyRotated'));
        return events.length >= 2 && events;
      });
      for (const event of rotated) {
        const data = event.data as SigningKeyRotated;
        expect(event.key).toBe('keys');
        expect(data.sealedPrivateKey).toMatch(/^v1\./);
        expect(data.sealedPrivateKey).not.toContain('"d"');
      }
    });
  });

  it("lists the services' authority keys in the JWKS, which verify what each service signs (ADR 0118)", async () => {
    const { keys } = (await (await fetch(`${service.url}/.well-known/jwks.json`)).json()) as {
      keys: (Record<string, string> & { kid: string; warden_use: string })[];
    };
    const authority = keys.filter((k) => k.warden_use.startsWith('authority:'));
    expect(authority.map((k) => k.warden_use).sort()).toEqual(
      [...new Set(AUTHORITY_OWNERS.values())].map((s) => `authority:${s}`).sort(),
    );
    const registryKey = deriveAuthorityKey(parseKek(DEV_KEY_ENCRYPTION_KEY), 'registry');
    expect(authority.find((k) => k.warden_use === 'authority:registry')).toMatchObject({
      kid: registryKey.kid,
      kty: 'OKP',
      crv: 'Ed25519',
      alg: 'EdDSA',
      use: 'sig',
    });
    for (const k of authority) expect(k).not.toHaveProperty('d');
    // An outside subscriber verifies the registry's own records with the published keys alone.
    const verifier = new AuthorityVerifier([], new Map(), parseAuthorityJwks(JSON.stringify({ keys })));
    const rotated = await eventually(() =>
      recorder.records.find((r) => r.headers.ce_type?.endsWith('SigningKeyRotated')),
    );
    expect(verifier.check(Topic.registryEvents, rotated)).toEqual({ ok: true });
    expect(rotated.headers[AUTHORITY_HEADERS.kid]).toBe(registryKey.kid);
  });

  it('dead-letters a forged signing key, unsigned or signed with another KEK, and never serves it', async () => {
    const letters = await TopicRecorder.start(port, prefix, [Topic.deadLetter]);
    try {
      const forged = (kid: string) => {
        const { publicKey } = generateKeyPairSync('ed25519');
        const wire = encode({
          id: `forged-${kid}`,
          type: SigningKeyRotatedSchema.typeName,
          source: 'warden://registry',
          time: Date.now(),
          key: 'keys',
          tenantId: '',
          agentId: '',
          runId: '',
          data: create(SigningKeyRotatedSchema, {
            kid,
            use: KeyUse.AGENT_TOKEN,
            alg: 'EdDSA',
            publicJwk: JSON.stringify({ ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' }),
            activatedAtMs: Date.now(),
            change: { by: 'mallory', reason: 'forged', atMs: Date.now() },
          }),
        });
        return { topic: `${prefix}${Topic.registryEvents}`, ...wire };
      };
      const unsigned = forged('forged-unsigned');
      const other = forged('forged-other-kek');
      await port.publish([unsigned, signedAsOwners(prefix, [other], randomBytes(32).toString('base64'))[0]]);
      const found = await eventually(() => {
        const byKeys = letters.records.filter((r) => r.headers[DLQ.consumer] === 'registry-keys');
        const u = byKeys.find((r) => r.headers.ce_id === 'forged-forged-unsigned');
        const o = byKeys.find((r) => r.headers.ce_id === 'forged-forged-other-kek');
        return u && o && { u, o };
      });
      expect(found.u.headers).toMatchObject({
        [DLQ.code]: 'forged:unsigned',
        [DLQ.reason]: 'registry.events records must be signed by registry; this one is not',
      });
      expect(found.o.headers[DLQ.code]).toBe('forged:wrong_signer');
      const { keys } = (await (await fetch(`${service.url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      expect(keys.map((k) => k.kid)).not.toEqual(expect.arrayContaining(['forged-unsigned']));
      expect(keys.map((k) => k.kid)).not.toEqual(expect.arrayContaining(['forged-other-kek']));
    } finally {
      await letters.stop();
    }
  });

  describe('tool contracts', () => {
    it('publishes version 1 with its digest; the same definition again changes nothing', async () => {
      const first = await call(who.owner, 'POST', '/tools', tickets);
      expect(first).toMatchObject({ status: 200, body: { tool: 'tickets', version: '1', published: true } });
      v1Digest = first.body.definitionDigest as string;
      expect(v1Digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const again = await call(who.owner, 'POST', '/tools', tickets);
      expect(again.body).toMatchObject({ version: '1', published: false, definitionDigest: v1Digest });
    });

    it.each<[string, Record<string, unknown>, string, string]>([
      ['an invalid input schema', { inputSchema: { type: 'strange' } }, 'invalid_schema', 'inputSchema.type'],
      ['a schema that is not an object', { inputSchema: 42 }, 'invalid_schema', 'inputSchema'],
      ['an unknown data class', { dataClassesOut: ['gossip'] }, 'invalid_data_class', 'dataClassesOut[0]'],
      [
        'an unknown risk class',
        { actions: [{ name: 'x', riskClass: 'y', auditEvent: 'z' }] },
        'invalid_risk_class',
        'actions[0].riskClass',
      ],
      ['no actions', { actions: [] }, 'actions_required', 'actions'],
    ])('refuses %s with 400 naming the field, and publishes nothing', async (_name, over, code, field) => {
      const r = await call(who.owner, 'POST', '/tools', { ...tickets, tool: 'bad-tool', ...over });
      expect(r).toMatchObject({ status: 400, body: { code, field } });
      expect((await call(who.owner, 'GET', '/tools?tool=bad-tool')).body).toEqual([]);
    });

    it('makes a changed definition version 2; lists the catalogue; hides it from other tenants', async () => {
      const v2 = await call(who.owner, 'POST', '/tools', { ...tickets, mustNever: ['delete tickets', 'email'] });
      expect(v2.body).toMatchObject({ version: '2', published: true });
      expect(v2.body.definitionDigest).not.toBe(v1Digest);
      const catalogue = await eventually(async () => {
        const r = await call(who.approver, 'GET', '/tools?tool=tickets');
        return r.body.length === 2 && r.body;
      });
      expect(catalogue.map((c) => [c.version, c.definitionDigest === v1Digest])).toEqual([
        [2, false],
        [1, true],
      ]);
      expect((await call(who.approver, 'GET', '/tools/tickets/versions/1')).body).toMatchObject({
        definition: { rateLimit: { calls: 10, windowMs: 60000 }, dataClassesIn: ['internal', 'pii'] },
      });
      expect((await call(who.globex, 'GET', '/tools')).body).toEqual([]);
      expect((await call(who.globex, 'GET', '/tools/tickets/versions/1')).status).toBe(404);
    });

    it('needs admin or owner to publish, and a reason to withdraw', async () => {
      expect((await call(who.approver, 'POST', '/tools', tickets)).status).toBe(403);
      const noReason = await call(who.owner, 'POST', '/tools/tickets/versions/2/withdraw', {});
      expect(noReason).toMatchObject({ status: 400, body: { code: 'reason_required' } });
    });
  });

  describe('pinning', () => {
    it('registers an agent pinned to version 1 by digest', async () => {
      const r = await call(who.owner, 'POST', '/agents', {
        agentId: 'ticket-bot',
        ...agentProfile,
        tools: [{ tool: 'tickets', actions: ['read'], contractVersion: '1', definitionDigest: v1Digest }],
      });
      expect(r).toMatchObject({ status: 201, body: { version: 1 } });
      expect((await call(who.owner, 'POST', '/agents/ticket-bot/activate', { expectedVersion: 1 })).status).toBe(200);
    });

    it.each<[string, Record<string, unknown>, string, string]>([
      ['an unknown tool', { tool: 'wiki' }, 'unknown_tool', 'tools[0].tool'],
      ['an unknown version', { contractVersion: '9' }, 'unknown_contract_version', 'tools[0].contractVersion'],
      [
        'a changed definition',
        { definitionDigest: `sha256:${'0'.repeat(64)}` },
        'digest_mismatch',
        'tools[0].definitionDigest',
      ],
      ['an action the contract lacks', { actions: ['merge'] }, 'unknown_action', 'tools[0].actions[0]'],
    ])('refuses a pin to %s with 400, changing nothing', async (_name, over, code, field) => {
      const pin = { tool: 'tickets', actions: ['read'], contractVersion: '1', definitionDigest: v1Digest, ...over };
      const r = await call(who.owner, 'PUT', '/agents/ticket-bot/profile', {
        expectedVersion: 2,
        ...agentProfile,
        tools: [pin],
      });
      expect(r).toMatchObject({ status: 400, body: { code, field } });
      // The next test updates at expectedVersion 2, which proves that no refused pin made a version.
      await eventually(async () => (await call(who.owner, 'GET', '/agents/ticket-bot')).body.version === 2);
    });

    it('accepts version 2 by updating the pin at the expected version; a stale version gets 409', async () => {
      const v2 = (await call(who.owner, 'GET', '/tools?tool=tickets')).body[0];
      const pin = {
        tool: 'tickets',
        actions: ['read', 'close'],
        contractVersion: '2',
        definitionDigest: v2.definitionDigest,
      };
      const ok = await call(who.owner, 'PUT', '/agents/ticket-bot/profile', {
        expectedVersion: 2,
        ...agentProfile,
        tools: [pin],
      });
      expect(ok).toMatchObject({ status: 200, body: { version: 3, profile: { tools: [{ contractVersion: '2' }] } } });
      const stale = await call(who.owner, 'PUT', '/agents/ticket-bot/profile', {
        expectedVersion: 2,
        ...agentProfile,
        tools: [pin],
      });
      expect(stale).toMatchObject({ status: 409, body: { code: 'stale_version', field: 'expectedVersion' } });
    });
  });

  describe('credentials and agent tokens', () => {
    let secret = '';
    let secretCredential = '';

    it('registers a client secret, returned once and never listed', async () => {
      const r = await call(who.owner, 'POST', '/agents/ticket-bot/credentials', {
        kind: 'client_secret',
        reason: 'deploy',
      });
      expect(r).toMatchObject({ status: 201, body: { kind: 'client_secret', clientId: 'ticket-bot' } });
      secret = r.body.clientSecret as string;
      secretCredential = r.body.credentialId as string;
      expect(secret.startsWith(`${secretCredential}.`)).toBe(true);
      const listed = await eventually(async () => {
        const l = await call(who.auditor, 'GET', '/agents/ticket-bot/credentials');
        return l.body.length === 1 && l.body;
      });
      expect(JSON.stringify(listed)).not.toContain(secret.split('.')[1]);
      expect(listed[0]).toMatchObject({ id: secretCredential, kind: 'client_secret', revoked: false });
      const event = recorder.events(Topic.registryEvents).find((e) => e.type.endsWith('AgentCredentialRegistered'));
      expect(JSON.stringify(event?.data)).not.toContain(secret.split('.')[1]);
    });

    it('issues a short-lived agent token for the secret that the gate verifies offline', async () => {
      const r = await token({ grant_type: 'client_credentials', client_id: 'ticket-bot', client_secret: secret });
      expect(r).toMatchObject({ status: 200, body: { token_type: 'DPoP', expires_in: 300 } });
      const verdict = await verify(r.body.access_token as string);
      expect(verdict).toMatchObject({
        ok: true,
        claims: { sub: 'ticket-bot', tenant: 'acme', cid: secretCredential, cnf: { jkt: jwkThumbprint(proofKey.jwk) } },
      });
      expect(await verify(r.body.access_token as string, 'other-bot')).toMatchObject({ reason: 'wrong_agent' });
    });

    it('binds every token to a key: no DPoP proof, a bad one or a replayed one is refused with 400', async () => {
      const form = { grant_type: 'client_credentials', client_id: 'ticket-bot', client_secret: secret };
      const none = await token(form, null);
      expect(none).toMatchObject({ status: 400, body: { code: 'invalid_dpop_proof', field: 'DPoP' } });
      expect((await token(form, 'not.a.proof')).body).toMatchObject({ code: 'invalid_dpop_proof' });
      const url = `${service.url}/oauth/token`;
      const once = dpopProof(proofKey, url, Date.now());
      expect((await token(form, once)).status).toBe(200);
      expect((await token(form, once)).body).toMatchObject({
        code: 'invalid_dpop_proof',
        detail: expect.stringMatching(/used before/),
      });
      const stale = dpopProof(proofKey, url, Date.now() - 3_600_000);
      expect((await token(form, stale)).body).toMatchObject({
        code: 'invalid_dpop_proof',
        detail: 'iat is not recent',
      });
      const elsewhere = dpopProof(proofKey, `${service.url}/agents`, Date.now());
      expect((await token(form, elsewhere)).body).toMatchObject({ detail: 'htu must be the token endpoint' });
    });

    it('refuses a wrong secret, another agent’s secret, and bad requests', async () => {
      const bad = await token({
        grant_type: 'client_credentials',
        client_id: 'ticket-bot',
        client_secret: `${secretCredential}.nope`,
      });
      expect(bad).toMatchObject({ status: 401, body: { code: 'invalid_client' } });
      const otherAgent = await token({ grant_type: 'client_credentials', client_id: 'someone', client_secret: secret });
      expect(otherAgent.status).toBe(401);
      expect((await token({ grant_type: 'password', client_id: 'ticket-bot' })).body).toMatchObject({
        status: 400,
        code: 'unsupported_grant_type',
      });
      expect((await token({ grant_type: 'client_credentials', client_id: 'ticket-bot' })).status).toBe(400);
    });

    it('issues no token to an agent that is not active yet (a draft)', async () => {
      const pin = { tool: 'tickets', actions: ['read'], contractVersion: '1', definitionDigest: v1Digest };
      expect(
        (await call(who.owner, 'POST', '/agents', { agentId: 'draft-bot', ...agentProfile, tools: [pin] })).status,
      ).toBe(201);
      const credential = await call(who.owner, 'POST', '/agents/draft-bot/credentials', {
        kind: 'client_secret',
        reason: 'deploy',
      });
      expect(credential.status).toBe(201);
      const refused = await eventually(async () => {
        const r = await token({
          grant_type: 'client_credentials',
          client_id: 'draft-bot',
          client_secret: credential.body.clientSecret as string,
        });
        return r.status !== 401 && r;
      });
      expect(refused).toMatchObject({ status: 403, body: { code: 'agent_not_runnable' } });
    });

    it('issues tokens for a private_key_jwt assertion, once per assertion; refuses forged ones', async () => {
      const pair = generateKeyPairSync('ed25519');
      const jwk = pair.publicKey.export({ format: 'jwk' });
      const r = await call(who.owner, 'POST', '/agents/ticket-bot/credentials', { kind: 'public_key', publicJwk: jwk });
      expect(r.status).toBe(201);
      expect(r.body).not.toHaveProperty('clientSecret');
      const kid = r.body.credentialId as string;
      const assertion = (key: KeyObject, jti: string) => {
        const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        const input = `${b64({ alg: 'EdDSA', kid })}.${b64({ iss: 'ticket-bot', sub: 'ticket-bot', aud: 'warden-registry', iat: now, exp: now + 60, jti })}`;
        return `${input}.${signBytes(null, Buffer.from(input), key).toString('base64url')}`;
      };
      const form = (a: string) => ({
        grant_type: 'client_credentials',
        client_id: 'ticket-bot',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: a,
      });
      const once = assertion(pair.privateKey, 'a1');
      await eventually(
        async () => (await token(form(assertion(pair.privateKey, `probe-${Date.now()}`)))).status === 200,
      );
      const ok = await token(form(once));
      expect(ok.status).toBe(200);
      expect(await verify(ok.body.access_token as string)).toMatchObject({ ok: true, claims: { cid: kid } });
      expect((await token(form(once))).status).toBe(401);
      const forged = assertion(generateKeyPairSync('ed25519').privateKey, 'a2');
      expect((await token(form(forged))).status).toBe(401);
      const invalidJwk = await call(who.owner, 'POST', '/agents/ticket-bot/credentials', {
        kind: 'public_key',
        publicJwk: { kty: 'RSA', n: 'x', e: 'AQAB' },
      });
      expect(invalidJwk).toMatchObject({ status: 400, body: { field: 'publicJwk' } });
    });

    it('revokes a credential at once: no new tokens, and its tokens fail with the revocation list', async () => {
      const before = await token({ grant_type: 'client_credentials', client_id: 'ticket-bot', client_secret: secret });
      const revoked = await call(who.owner, 'POST', `/agents/ticket-bot/credentials/${secretCredential}/revoke`, {
        reason: 'leaked',
      });
      expect(revoked.status).toBe(200);
      expect(
        (await token({ grant_type: 'client_credentials', client_id: 'ticket-bot', client_secret: secret })).status,
      ).toBe(401);
      expect(await verify(before.body.access_token as string, 'ticket-bot', [secretCredential])).toMatchObject({
        reason: 'credential_revoked',
      });
    });

    it('keeps credentials to their tenant', async () => {
      const r = await call(who.globex, 'POST', '/agents/ticket-bot/credentials', { kind: 'client_secret' });
      expect(r).toMatchObject({ status: 404, body: { code: 'agent_not_found' } });
      expect((await call(who.globex, 'GET', '/agents/ticket-bot/credentials')).body).toEqual([]);
    });
  });

  describe('delegation grants', () => {
    const hour = 3_600_000;

    it('grants the caller’s own authority; lists it as live; revokes it at once', async () => {
      const r = await call(who.approver, 'POST', '/agents/ticket-bot/grants', {
        scopes: ['tickets:read'],
        expiresAtMs: Date.now() + hour,
        reason: 'help me triage',
      });
      expect(r).toMatchObject({ status: 201, body: { subject: 'ann', scopes: ['tickets:read'] } });
      const grantId = r.body.grantId as string;
      await eventually(
        async () => (await call(who.approver, 'GET', '/grants?live=true&subject=ann')).body.length === 1,
      );
      const revoked = await call(who.approver, 'POST', `/agents/ticket-bot/grants/${grantId}/revoke`, {
        reason: 'done',
      });
      expect(revoked.status).toBe(200);
      await eventually(
        async () => (await call(who.approver, 'GET', '/grants?live=true&subject=ann')).body.length === 0,
      );
      expect((await call(who.approver, 'GET', '/agents/ticket-bot/grants')).body[0]).toMatchObject({
        id: grantId,
        revoked: true,
        revokedBy: 'ann',
      });
    });

    it('refuses expired or too long grants, bad scopes, other subjects unless admin or owner, other tenants', async () => {
      const grant = (caller: Who, body: Record<string, unknown>) =>
        call(caller, 'POST', '/agents/ticket-bot/grants', {
          scopes: ['tickets:read'],
          expiresAtMs: Date.now() + hour,
          ...body,
        });
      expect((await grant(who.approver, { expiresAtMs: Date.now() - 1 })).body).toMatchObject({
        code: 'expiry_in_past',
        field: 'expiresAtMs',
      });
      expect((await grant(who.approver, { expiresAtMs: Date.now() + 400 * 24 * hour })).body).toMatchObject({
        code: 'grant_too_long',
      });
      expect((await grant(who.approver, { scopes: ['tickets'] })).body).toMatchObject({
        code: 'invalid_scope',
        field: 'scopes[0]',
      });
      expect((await grant(who.approver, { subject: 'bob' })).status).toBe(403);
      expect((await grant(who.owner, { subject: 'bob' })).status).toBe(201);
      expect((await grant(who.globex, {})).status).toBe(404);
      expect((await call(who.globex, 'GET', '/grants')).body).toEqual([]);
    });
  });

  describe('identity links', () => {
    it('links a subject to its aliases (admin, with a reason), lists and unlinks them, per tenant, naming the field at fault', async () => {
      const link = (caller: Who, body: unknown) => call(caller, 'POST', '/identities/links', body);
      expect(
        await link(who.admin, {
          subject: 'u-123',
          aliases: ['Olga@Example.com', 'olga@example.com'],
          reason: 'no email claim',
        }),
      ).toMatchObject({ status: 201, body: { subject: 'u-123', aliases: ['Olga@Example.com'], linked: true } });
      // The same set again, in another spelling, changes nothing.
      expect(
        (await link(who.admin, { subject: 'U-123', aliases: ['OLGA@example.com'], reason: 'again' })).body,
      ).toMatchObject({
        linked: false,
      });
      for (const [body, code, field] of [
        [{ aliases: ['a@x.io'], reason: 'r' }, 'missing_field', 'subject'],
        [{ subject: 'u-1', reason: 'r' }, 'missing_field', 'aliases'],
        [{ subject: 'u-1', aliases: 'a@x.io', reason: 'r' }, 'invalid_field', 'aliases'],
        [{ subject: 'u-1', aliases: ['a@x.io', '  '], reason: 'r' }, 'invalid_identity', 'aliases[1]'],
        [{ subject: 'u-1', aliases: ['U-1'], reason: 'r' }, 'alias_is_subject', 'aliases[0]'],
        [{ subject: 'u-1', aliases: ['a@x.io'] }, 'reason_required', 'reason'],
      ] as [unknown, string, string][])
        expect((await link(who.admin, body)).body).toMatchObject({ status: 400, code, field });
      for (const caller of [who.owner, who.approver, who.auditor])
        expect((await link(caller, { subject: 'u-1', aliases: ['a@x.io'], reason: 'r' })).status).toBe(403);
      const listed = await eventually(async () => {
        const r = await call(who.approver, 'GET', '/identities/links');
        return r.body.length === 1 && r.body;
      });
      expect(listed[0]).toMatchObject({
        tenantId: 'acme',
        subject: 'u-123',
        aliases: ['Olga@Example.com'],
        unlinked: false,
        linkedBy: 'alice',
        reason: 'no email claim',
      });
      expect((await call(who.owner, 'GET', '/identities/links')).status).toBe(403);
      expect((await call(who.globex, 'GET', '/identities/links')).body).toEqual([]);
      // Another tenant's admin neither sees nor removes acme's link.
      expect((await call(who.globex, 'DELETE', '/identities/links/u-123', { reason: 'r' })).status).toBe(404);
      expect((await call(who.admin, 'DELETE', '/identities/links/u-123', {})).body).toMatchObject({
        status: 400,
        field: 'reason',
      });
      expect(await call(who.admin, 'DELETE', '/identities/links/U-123', { reason: 'wrong person' })).toMatchObject({
        status: 200,
        body: { unlinked: true },
      });
      expect((await call(who.admin, 'DELETE', '/identities/links/u-123', { reason: 'again' })).status).toBe(404);
      await eventually(async () =>
        (await call(who.admin, 'GET', '/identities/links')).body.length === 0 ? true : undefined,
      );
      const all = (await call(who.auditor, 'GET', '/identities/links?includeUnlinked=true')).body;
      expect(all).toEqual([expect.objectContaining({ subject: 'u-123', unlinked: true, unlinkedBy: 'alice' })]);
      // Recorded on registry.events, signed by the registry like every registry event (ADR 0118).
      const types = await eventually(() => {
        const found = recorder.on(Topic.registryEvents).filter((r) => r.key?.toString() === 'identity-links:acme');
        return found.length === 2 && found;
      });
      for (const r of types) expect(r.headers[AUTHORITY_HEADERS.signature]).toBeTruthy();
      const audit = await eventually(async () => {
        const r = await call(who.auditor, 'GET', '/audit?stream=identity-links:acme');
        return r.body.length === 2 && r.body;
      });
      expect(audit.map((e) => e.type).sort()).toEqual(['IdentityLinked', 'IdentityUnlinked']);
    });
  });

  describe('audit', () => {
    it('answers who changed what, when and why, for auditors and admins of the tenant only', async () => {
      const trail = await eventually(async () => {
        const r = await call(who.auditor, 'GET', '/audit?stream=ticket-bot');
        return r.body.length >= 8 && r.body;
      });
      expect(trail.map((e) => e.type)).toEqual(
        expect.arrayContaining(['AgentRegistered', 'AgentCredentialRevoked', 'DelegationGranted']),
      );
      expect(trail.find((e) => e.type === 'AgentCredentialRevoked')).toMatchObject({
        by: 'olga',
        reason: 'leaked',
        tenantId: 'acme',
      });
      expect((await call(who.owner, 'GET', '/audit')).status).toBe(403);
      // Another tenant's auditor sees none of acme's changes, only the signing keys' (shared by every tenant).
      const globex = (await call({ ...who.globex, roles: 'auditor' }, 'GET', '/audit')).body;
      expect(globex.map((e) => e.type)).toEqual(globex.map(() => 'SigningKeyRotated'));
      const keys = await call(who.admin, 'GET', '/audit?type=SigningKeyRotated');
      expect(keys.body.length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('projections', () => {
    it.each([
      ['tool-contracts', 'registry.tool_contracts'],
      ['credentials', 'registry.credentials'],
      ['grants', 'registry.grants'],
      ['audit', 'registry.audit'],
      ['identity-links', 'registry.identity_links'],
    ])('%s rebuilds the same rows from Kafka', async (name, table) => {
      const runtime = service.runtime;
      await eventually(async () => (await runtime.projection(name).lag()) === 0);
      const rows = () => runtime.db.query(`SELECT * FROM ${table} ORDER BY id`);
      const before = await rows();
      expect(before.length).toBeGreaterThan(0);
      await runtime.projection(name).rebuild();
      await eventually(async () => (await runtime.projection(name).lag()) === 0);
      expect(await rows()).toEqual(before);
    });
  });

  describe('rotation, retirement and restart', () => {
    it('rotates the agent-token key, retires the old one (its tokens stop verifying), keeps keys across a restart', async () => {
      const secret = (await call(who.owner, 'POST', '/agents/ticket-bot/credentials', { kind: 'client_secret' })).body
        .clientSecret as string;
      const form = { grant_type: 'client_credentials', client_id: 'ticket-bot', client_secret: secret };
      const old = (
        await eventually(async () => {
          const r = await token(form);
          return r.status === 200 && r;
        })
      ).body.access_token as string;
      const oldKid = JSON.parse(Buffer.from(old.split('.')[0], 'base64url').toString()).kid as string;
      expect((await call(who.owner, 'POST', '/keys/rotate', { use: 'agent_token' })).status).toBe(403);
      // The keys sign every tenant's tokens: a tenant's admin may not rotate or retire them.
      const tenantAdmin = await call(who.admin, 'POST', '/keys/rotate', { use: 'agent_token', reason: 'mine' });
      expect(tenantAdmin).toMatchObject({ status: 403, body: { code: 'role_required' } });
      const rotated = await call(who.platform, 'POST', '/keys/rotate', { use: 'agent_token', reason: 'scheduled' });
      expect(rotated.body.kid).not.toBe(oldKid);
      expect((await call(who.admin, 'POST', `/keys/${oldKid}/retire`, { reason: 'mine' })).status).toBe(403);
      expect(
        (await call(who.platform, 'POST', `/keys/${rotated.body.kid}/retire`, { reason: 'x' })).body,
      ).toMatchObject({
        code: 'key_active',
      });
      expect((await verify(old)).ok).toBe(true);
      expect((await call(who.platform, 'POST', `/keys/${oldKid}/retire`, { reason: 'rotated out' })).status).toBe(200);
      expect(await verify(old)).toMatchObject({ reason: 'unknown_key' });

      await service.close();
      service = await start();
      const keys = await jwksKeys();
      expect(keys.has(rotated.body.kid as string)).toBe(true);
      expect(keys.has(oldKid)).toBe(false);
      expect(keys.size).toBe(2);
      const fresh = (await token(form)).body.access_token as string;
      expect(JSON.parse(Buffer.from(fresh.split('.')[0], 'base64url').toString()).kid).toBe(rotated.body.kid);
      expect((await verify(fresh)).ok).toBe(true);
    });
  });
});
