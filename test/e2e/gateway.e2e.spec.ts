import { generateKeyPairSync, randomBytes, randomUUID, sign as signBytes } from 'node:crypto';
import {
  AgentProfileSchema,
  AgentProfileUpdatedSchema,
  argumentsDigest,
  create,
  DelegationGrantedSchema,
  encode,
  GateDecided,
  KeyUse,
  Message,
  SigningKeyRotatedSchema,
  Topic,
  decodeAgentJson,
  dpopProof,
  GateRequested,
  GateRequestedSchema,
  newProofKey,
  outcomeProof,
  ProofKey,
  requestProof,
  StepCompletedSchema,
  withRequestDefaults,
} from '@warden/contracts';
import { DLQ, KafkaPort } from '@warden/platform';
import { connectedPort, eventually, publishEvent, signedAsOwners, TopicRecorder } from '@warden/platform/testing';
import { publishToolContracts } from '@warden/local-stack';
import { call, Identity, payrollAgent, registerActiveAgent } from './http';
import { startTestStack, TestStack } from './stack';

/**
 * The HTTP gate (apps/gateway, ADR 0119) against the six services and the gateway as processes
 * on the real broker, with agent tokens required: an agent that speaks only HTTP gets a DPoP-bound
 * token from the registry, proves each request with its own key, and asks the gate over
 * POST /v1/gate and the AuthZEN Access Evaluation API; reports its outcome over POST /v1/outcomes.
 */
jest.setTimeout(240_000);

type Json = Record<string, unknown>;

describe('the HTTP gate', () => {
  const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const agentId = 'http-bot';
  let running: TestStack;
  let gatewayUrl: string;
  let token: string;
  let pins: Awaited<ReturnType<typeof publishToolContracts>>;
  let port: KafkaPort;
  let recorder: TopicRecorder;
  const key: ProofKey = newProofKey();

  /** A DPoP proof for a call to the gateway (RFC 9449 §7: with `ath`, the token's hash). */
  const dpopFor = (url: string, k = key, t = token) => dpopProof(k, url, Date.now(), t);

  async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    const url = `${gatewayUrl}${path}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `DPoP ${token}`,
        dpop: dpopFor(url),
        ...headers,
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: JSON.parse(text) as Json };
  }

  /** The request as the gate will see it (defaults applied), and the proof of it by the agent's key. */
  function proved(json: Json, t = token): string {
    return provedRequest(json, t).requestProof;
  }

  /** The request as the gate will see it, carrying token `t` and the proof by the agent's key. */
  function provedRequest(json: Json, t = token): GateRequested {
    const r = decodeAgentJson(
      GateRequestedSchema,
      Buffer.from(JSON.stringify({ tenantId: 'acme', agentId, ...json })),
    ) as GateRequested;
    const request = create(GateRequestedSchema, withRequestDefaults(r));
    request.argumentsDigest = argumentsDigest(r.arguments ?? {});
    request.agentToken = t;
    request.requestProof = requestProof(request, key);
    return request;
  }

  const gateRequest = (action: string, over: Json = {}): Json => {
    const now = Date.now();
    return {
      requestId: randomUUID(),
      runId: `run-${randomUUID().slice(0, 8)}`,
      actionKind: 'tool_call',
      tool: 'tickets',
      action,
      arguments: { ticket: 42 },
      environment: 'prod',
      estimatedTokens: 100,
      requestedAtMs: now,
      deadlineMs: now + 15_000,
      ...over,
    };
  };
  const ask = (r: Json) => post('/v1/gate', r, { 'warden-request-proof': proved(r) });

  beforeAll(async () => {
    running = await startTestStack('gateway', { optional: ['gateway'] });
    const { stack } = running;
    gatewayUrl = stack.urls.gateway!;
    port = await connectedPort('e2e-gateway');
    recorder = await TopicRecorder.start(port, running.prefix, [Topic.deadLetter, Topic.gateDecisions]);
    pins = await publishToolContracts(stack.urls.registry, admin, {
      tickets: {
        description: 'the ticket system',
        ownerTeam: 'support',
        actions: [
          ['read', 'low', false],
          ['delete', 'high', false],
          // Low risk but not granted: what a forged grant would add (the forgery test).
          ['list', 'low', false],
        ],
      },
    });
    await registerActiveAgent(stack.urls.registry, admin, agentId, [
      { tool: 'tickets', actions: ['read'], ...pins.tickets },
    ]);
    const credential = await call(stack.urls.registry, 'POST', `/agents/${agentId}/credentials`, admin, {
      kind: 'client_secret',
      reason: 'gateway e2e',
    });
    const tokenUrl = `${stack.urls.registry}/oauth/token`;
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: dpopProof(key, tokenUrl, Date.now()) },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: agentId,
        client_secret: credential.body.clientSecret as string,
      }),
    });
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect({ status: res.status, type: body.token_type }).toEqual({ status: 200, type: 'DPoP' });
    token = body.access_token;
  });

  afterAll(async () => {
    await recorder?.stop();
    await port?.close();
    await running?.stop();
  });

  let allowed: { request: Json; answer: Json } | undefined;

  it('allows a granted tool call with a decision token, and publishes nothing the agent did not prove', async () => {
    const request = gateRequest('read');
    const answer = await ask(request);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      requestId: request.requestId,
      verdict: 'allow',
      allowed: true,
      final: true,
      timedOut: false,
      stepId: request.requestId,
      idempotencyKey: `${request.runId as string}:${request.requestId as string}`,
    });
    expect(answer.body.decisionToken).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(answer.body.decision).toMatchObject({ verdict: 'VERDICT_ALLOW', requestId: request.requestId });
    allowed = { request, answer: answer.body };
  });

  it('denies an action outside the grant', async () => {
    const answer = await ask(gateRequest('delete'));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ verdict: 'deny', allowed: false, timedOut: false });
    expect(answer.body.decisionToken).toBeUndefined();
  });

  it('fails closed: no decision by the deadline is a deny, never an allow', async () => {
    const now = Date.now();
    const answer = await ask(gateRequest('read', { requestedAtMs: now, deadlineMs: now + 5 }));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ verdict: 'deny', allowed: false, timedOut: true });
    expect(answer.body.reason).toMatch(/fail closed/);
  });

  it('answers a bad body with 400 problem+json naming the field', async () => {
    const { deadlineMs: _, ...noDeadline } = gateRequest('read');
    const missing = await post('/v1/gate', noDeadline);
    expect(missing.status).toBe(400);
    expect(missing.contentType).toContain('application/problem+json');
    expect(missing.body).toMatchObject({ status: 400, code: 'missing_field', field: 'deadlineMs' });
    const unknown = await post('/v1/gate', { ...gateRequest('read'), tol: 'tickets' });
    expect(unknown.body).toMatchObject({ status: 400, code: 'unknown_field', field: 'tol' });
    const unproved = await post('/v1/gate', gateRequest('read'));
    expect(unproved.body).toMatchObject({ status: 400, field: 'requestProof' });
    // A proof of another request proves nothing.
    const r = gateRequest('read');
    const forged = await post('/v1/gate', { ...r, action: 'delete' }, { 'warden-request-proof': proved(r) });
    expect(forged.body).toMatchObject({ status: 400, field: 'requestProof' });
  });

  it('refuses a call without a valid agent token or DPoP proof with 401', async () => {
    const url = `${gatewayUrl}/v1/gate`;
    const send = async (headers: Record<string, string>) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(gateRequest('read')),
      });
      return { status: res.status, contentType: res.headers.get('content-type'), body: (await res.json()) as Json };
    };
    const none = await send({});
    expect(none).toMatchObject({ status: 401, body: { code: 'missing_token' } });
    expect(none.contentType).toContain('application/problem+json');
    expect(await send({ authorization: 'DPoP not.a.token', dpop: dpopFor(url) })).toMatchObject({
      status: 401,
      body: { code: 'invalid_token' },
    });
    expect(await send({ authorization: `Bearer ${token}` })).toMatchObject({ status: 401 });
    expect(await send({ authorization: `DPoP ${token}` })).toMatchObject({
      status: 401,
      body: { code: 'invalid_dpop_proof' },
    });
    // A proof by another key than the token's, and a proof used twice.
    expect(await send({ authorization: `DPoP ${token}`, dpop: dpopFor(url, newProofKey()) })).toMatchObject({
      status: 401,
      body: { code: 'invalid_dpop_proof' },
    });
    const once = dpopFor(url);
    await send({ authorization: `DPoP ${token}`, dpop: once });
    expect(await send({ authorization: `DPoP ${token}`, dpop: once })).toMatchObject({
      status: 401,
      body: { detail: expect.stringMatching(/used before/) },
    });
  });

  it('accepts an outcome with its proof, and trace shows it', async () => {
    if (!allowed) throw new Error('the allow test did not run');
    const { request } = allowed;
    const outcome = create(StepCompletedSchema, {
      requestId: request.requestId as string,
      tenantId: 'acme',
      agentId,
      runId: request.runId as string,
      stepId: allowed.answer.stepId as string,
      idempotencyKey: allowed.answer.idempotencyKey as string,
      actualTokens: 80,
      durationMs: 12,
      resultDigest: argumentsDigest({ ok: true }),
      completedAtMs: Date.now(),
    });
    const body = {
      status: 'completed',
      requestId: outcome.requestId,
      runId: outcome.runId,
      stepId: outcome.stepId,
      idempotencyKey: outcome.idempotencyKey,
      actualTokens: outcome.actualTokens,
      durationMs: outcome.durationMs,
      resultDigest: outcome.resultDigest,
      completedAtMs: outcome.completedAtMs,
    };
    const bad = await post('/v1/outcomes', { ...body, status: 'done' });
    expect(bad.body).toMatchObject({ status: 400, field: 'status' });
    const res = await post('/v1/outcomes', body, { 'warden-outcome-proof': outcomeProof(outcome, key) });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: true, requestId: outcome.requestId });
    const traced = await eventually(
      async () => {
        const r = await call(running.stack.urls.trace, 'GET', `/requests/${outcome.requestId}`, admin);
        return r.status === 200 && r.body.outcomeStatus ? r.body : undefined;
      },
      60_000,
      'the outcome in trace',
    );
    expect(traced).toMatchObject({ verdict: 'allow', outcomeStatus: 'completed' });
  });

  it('a forged signing key, tool grant and delegation produced straight to registry.events are dead-lettered and change nothing', async () => {
    // A principal with produce rights on registry.events but without the key-encryption key
    // (docs/adr/0118): records unsigned, or signed with a registry key derived from a KEK of its own.
    const { prefix } = running;
    const otherKek = randomBytes(32).toString('base64');
    const record = (
      id: string,
      streamKey: string,
      data: Message,
      ids: { tenantId?: string; agentId?: string } = {},
    ) => ({
      topic: `${prefix}${Topic.registryEvents}`,
      ...encode({
        id,
        type: data.$typeName,
        source: 'warden://registry',
        time: Date.now(),
        key: streamKey,
        tenantId: ids.tenantId ?? '',
        agentId: ids.agentId ?? '',
        runId: '',
        data,
      }),
    });
    const forgedKeys = ['unsigned', 'other-kek'].map((variant) => {
      const pair = generateKeyPairSync('ed25519');
      const kid = `forged-key-${variant}`;
      const publicJwk = JSON.stringify({ ...pair.publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA' });
      const rotated = create(SigningKeyRotatedSchema, {
        kid,
        use: KeyUse.AGENT_TOKEN,
        alg: 'EdDSA',
        publicJwk,
        activatedAtMs: Date.now(),
        change: { by: 'mallory', reason: 'forged', atMs: Date.now() },
      });
      return { kid, privateKey: pair.privateKey, record: record(`forged-${kid}`, 'keys', rotated) };
    });
    // The agent's own profile (version 3, after register and activate), with the ungranted action added.
    const profile = payrollAgent(agentId, [{ tool: 'tickets', actions: ['read', 'list'], ...pins.tickets }]);
    const grant = create(AgentProfileUpdatedSchema, {
      agentId,
      tenantId: 'acme',
      version: 3,
      profile: create(AgentProfileSchema, {
        mission: profile.mission,
        owner: profile.owner,
        businessProcess: profile.businessProcess,
        model: profile.model,
        tools: profile.tools.map((t) => ({ ...t, actions: [...t.actions] })),
        environments: profile.environments,
        autonomyLevel: profile.autonomyLevel,
        shutdownPath: profile.shutdownPath,
      }),
      change: { by: 'mallory', reason: 'forged', atMs: Date.now() },
    });
    const delegation = create(DelegationGrantedSchema, {
      grantId: 'forged-grant',
      tenantId: 'acme',
      agentId,
      subject: 'rita',
      scopes: ['tickets.list'],
      expiresAtMs: Date.now() + 3_600_000,
      change: { by: 'mallory', reason: 'forged', atMs: Date.now() },
    });
    const ids = { tenantId: 'acme', agentId };
    await port.publish([
      forgedKeys[0].record,
      ...signedAsOwners(prefix, [forgedKeys[1].record], otherKek),
      record('forged-grant-unsigned', agentId, grant, ids),
      ...signedAsOwners(prefix, [record('forged-grant-other-kek', agentId, grant, ids)], otherKek),
      record('forged-delegation', agentId, delegation, ids),
    ]);
    const expected: [string, string][] = [
      ['forged-forged-key-unsigned', 'forged:unsigned'],
      ['forged-forged-key-other-kek', 'forged:wrong_signer'],
      ['forged-grant-unsigned', 'forged:unsigned'],
      ['forged-grant-other-kek', 'forged:wrong_signer'],
      ['forged-delegation', 'forged:unsigned'],
    ];
    const letters = await eventually(
      () => {
        const found = expected.map(([id, code]) =>
          recorder
            .on(Topic.deadLetter)
            .find(
              (r) =>
                r.headers.ce_id === id && r.headers[DLQ.consumer] === 'policy-registry' && r.headers[DLQ.code] === code,
            ),
        );
        return found.every(Boolean) && found;
      },
      30_000,
      'the forged registry records dead-lettered by policy',
    );
    expect(letters[0]!.headers[DLQ.reason]).toBe('registry.events records must be signed by registry; this one is not');
    expect(letters[1]!.headers[DLQ.reason]).toContain('is not its key');
    // Every other consumer of registry.events refused them too (the gateway logs only: it writes no dead letters).
    const consumers = new Set(
      recorder
        .on(Topic.deadLetter)
        .filter((r) => r.headers.ce_id === 'forged-forged-key-unsigned')
        .map((r) => r.headers[DLQ.consumer]),
    );
    for (const c of ['policy-registry', 'registry-keys', 'budget-tool-risk']) expect(consumers).toContain(c);

    // A token signed by a forged key, with the agent's genuine claims: the gateway refuses it (401),
    // and so does policy when the request reaches it straight over Kafka.
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Json;
    for (const forged of forgedKeys) {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const unsignedJwt = `${b64({ alg: 'EdDSA', kid: forged.kid, typ: 'JWT' })}.${b64({ ...claims, jti: randomUUID() })}`;
      const forgedToken = `${unsignedJwt}.${signBytes(null, Buffer.from(unsignedJwt), forged.privateKey).toString('base64url')}`;
      const url = `${gatewayUrl}/v1/gate`;
      const request = gateRequest('read');
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `DPoP ${forgedToken}`,
          dpop: dpopFor(url, key, forgedToken),
          'warden-request-proof': proved(request, forgedToken),
        },
        body: JSON.stringify(request),
      });
      expect({ kid: forged.kid, status: res.status, body: await res.json() }).toMatchObject({
        kid: forged.kid,
        status: 401,
        body: { code: 'invalid_token' },
      });
      const direct = provedRequest(gateRequest('read'), forgedToken);
      await publishEvent(port, prefix, Topic.gateRequests, direct.runId, direct, {
        tenantId: 'acme',
        agentId,
        runId: direct.runId,
      });
      const decided = await eventually(
        () =>
          recorder
            .events(Topic.gateDecisions)
            .map((e) => e.data as GateDecided)
            .find((d) => d.requestId === direct.requestId && d.final),
        30_000,
        "policy's decision on the forged token",
      );
      expect(decided.reason).toContain('unknown_key');
      expect(decided.decisionToken).toBeFalsy();
    }
    // The forged grant does not allow; the genuine token and grant still do.
    expect((await ask(gateRequest('list'))).body).toMatchObject({ verdict: 'deny', allowed: false, timedOut: false });
    expect((await ask(gateRequest('read'))).body).toMatchObject({ verdict: 'allow', allowed: true });
  });

  const evaluation = (action: string) => {
    const r = gateRequest(action);
    const context: Json = {
      requestId: r.requestId,
      runId: r.runId,
      requestedAtMs: r.requestedAtMs,
      deadlineMs: r.deadlineMs,
      arguments: r.arguments,
      environment: r.environment,
      estimatedTokens: r.estimatedTokens,
    };
    context.requestProof = proved({
      ...context,
      actionKind: 'tool_call',
      tool: 'tickets',
      action,
      requestProof: undefined,
    });
    return {
      subject: { type: 'agent', id: agentId },
      action: { name: action },
      resource: { type: 'tool', id: 'tickets' },
      context,
    };
  };

  it('answers AuthZEN evaluations: true on allow (with the decision token), false on deny', async () => {
    const yes = await post('/access/v1/evaluation', evaluation('read'));
    expect(yes.status).toBe(200);
    expect(yes.body).toMatchObject({ decision: true, context: { verdict: 'allow' } });
    expect((yes.body.context as Json).decisionToken).toMatch(/^ey/);
    const no = await post('/access/v1/evaluation', evaluation('delete'));
    expect(no.body).toMatchObject({ decision: false, context: { verdict: 'deny' } });
    const bad = await post('/access/v1/evaluation', { ...evaluation('read'), resource: { type: 'printer', id: 'x' } });
    expect(bad.body).toMatchObject({ status: 400, field: 'resource.type' });
  });

  it('answers a batch of AuthZEN evaluations, in order, with each semantic', async () => {
    const all = await post('/access/v1/evaluations', {
      subject: { type: 'agent', id: agentId },
      resource: { type: 'tool', id: 'tickets' },
      evaluations: [
        { action: { name: 'read' }, context: evaluation('read').context },
        { action: { name: 'delete' }, context: evaluation('delete').context },
        { action: { name: 'read' }, context: { runId: 'r' } },
      ],
    });
    expect(all.status).toBe(200);
    const decisions = all.body.evaluations as Json[];
    expect(decisions.map((d) => d.decision)).toEqual([true, false, false]);
    expect(decisions[2].context).toMatchObject({ error: { status: 400, field: 'evaluations[2].context.requestId' } });
    const first = await post('/access/v1/evaluations', {
      evaluations: [evaluation('delete'), evaluation('read')],
      options: { evaluations_semantic: 'deny_on_first_deny' },
    });
    expect((first.body.evaluations as Json[]).map((d) => d.decision)).toEqual([false]);
  });

  it('serves its OpenAPI document with request and response schemas, health and metrics', async () => {
    const doc = (await (await fetch(`${gatewayUrl}/openapi.json`)).json()) as {
      paths: Record<string, { post: { requestBody?: unknown; responses: Record<string, { content?: unknown }> } }>;
    };
    for (const path of ['/v1/gate', '/v1/outcomes', '/access/v1/evaluation', '/access/v1/evaluations']) {
      expect({ path, body: Boolean(doc.paths[path]?.post.requestBody) }).toEqual({ path, body: true });
      const ok = Object.entries(doc.paths[path].post.responses).find(([status]) => status.startsWith('2'));
      expect({ path, response: Boolean(ok?.[1].content) }).toEqual({ path, response: true });
    }
    expect((await fetch(`${gatewayUrl}/health/ready`)).status).toBe(200);
    expect(await (await fetch(`${gatewayUrl}/metrics`)).text()).toMatch(
      /warden_gateway_gate_seconds_bucket\{[^}]*verdict="allow"/,
    );
  });
});
