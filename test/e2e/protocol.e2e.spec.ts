import { createHash, generateKeyPairSync, JsonWebKey, KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Consumer, IHeaders, Kafka, logLevel, Producer } from 'kafkajs';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { fromJson, GateDecided, GateDecidedSchema, GateRequestedSchema, Topic } from '@warden/contracts';
import {
  connectedPort,
  eventually,
  freshDatabase,
  kafkaBrokers,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { KafkaPort } from '@warden/platform';
import {
  ContractPin,
  DEFAULT_PORTS,
  publishToolContracts,
  SERVICES,
  ServiceName,
  Stack,
  startStack,
} from '@warden/local-stack';
import { call, Identity } from './http';

/**
 * The conformance test of docs/protocol.md: an agent written from that page and the .proto files
 * alone, with a raw Kafka client (kafkajs, used directly) and no SDK code — its own canonical
 * JSON, digests, reply-topic names and proofs — against the six services as processes, with agent
 * tokens required. JSON and protobuf requests on random partitions with random keys, malformed
 * requests, duplicates, proofs copied onto other requests, outcomes, and a second agent that
 * never sees the first one's decisions.
 */
jest.setTimeout(240_000);

// ---------------------------------------------------------------------------------------------
// What docs/protocol.md specifies, implemented here from its text.

/** RFC 8785: members sorted by UTF-16 code units, no whitespace, ECMAScript numbers and strings. */
function jcs(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(jcs).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${jcs(obj[k])}`)
    .join(',')}}`;
}
const sha256hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const digest = (value: unknown) => `sha256:${sha256hex(jcs(value))}`;
const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

/** `enc` of the reply topic's name. */
function enc(id: string): string {
  let out = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out.length <= 96 ? out : `h-${sha256hex(id).slice(0, 40)}`;
}

interface Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}
function jws(typ: string, claims: object, key: { privateKey: KeyObject; jwk: Jwk }): string {
  const input = `${b64url(JSON.stringify({ alg: 'EdDSA', typ, jwk: key.jwk }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

type Json = Record<string, unknown>;

/** The proof input of a request as sent (its defaults applied), per the page's field list. */
function proofInput(r: Json, token: string): Json {
  const s = (k: string) => (r[k] as string | undefined) ?? '';
  const requestId = s('requestId');
  const stepId = s('stepId') || requestId;
  return {
    requestId,
    idempotencyKey: s('idempotencyKey') || `${s('runId')}:${stepId}`,
    stepId,
    attempt: (r.attempt as number | undefined) || 1,
    requestedAtMs: r.requestedAtMs,
    deadlineMs: r.deadlineMs,
    tenantId: s('tenantId'),
    agentId: s('agentId'),
    runId: s('runId'),
    parentStepId: s('parentStepId'),
    actionKind: s('actionKind').toLowerCase(),
    tool: s('tool'),
    action: s('action'),
    argumentsDigest: digest(r.arguments ?? {}),
    dataClasses: ((r.dataClasses as string[] | undefined) ?? []).map((c) => c.toLowerCase()),
    estimatedTokens: (r.estimatedTokens as number | undefined) ?? 0,
    estimatedCost: r.estimatedCost ?? null,
    onBehalfOf: s('onBehalfOf'),
    environment: s('environment'),
    model: s('model'),
    memoryStore: s('memoryStore'),
    memoryClass: s('memoryClass').toLowerCase(),
    delegateToAgentId: s('delegateToAgentId'),
    businessOutcome: s('businessOutcome'),
    agentTokenHash: createHash('sha256').update(token).digest('base64url'),
  };
}

interface Reply {
  readonly decision: GateDecided;
  readonly contentType: string;
  readonly traceparent?: string;
}

/** An agent process: its key, its bound token, its reply topic's consumer. */
class RawAgent {
  readonly key: { privateKey: KeyObject; jwk: Jwk };
  token = '';
  private consumer: Consumer | undefined;
  readonly replies: Reply[] = [];

  constructor(
    readonly tenantId: string,
    readonly agentId: string,
  ) {
    const pair = generateKeyPairSync('ed25519');
    const x = (pair.publicKey.export({ format: 'jwk' }) as JsonWebKey).x as string;
    this.key = { privateKey: pair.privateKey, jwk: { kty: 'OKP', crv: 'Ed25519', x } };
  }

  get replyTopic(): string {
    return `${prefix}replies.${enc(this.tenantId)}.${enc(this.agentId)}`;
  }

  async login(registryUrl: string, clientSecret: string): Promise<void> {
    const url = `${registryUrl}/oauth/token`;
    const dpop = jws(
      'dpop+jwt',
      { jti: randomUUID(), htm: 'POST', htu: url, iat: Math.floor(Date.now() / 1000) },
      this.key,
    );
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.agentId,
        client_secret: clientSecret,
      }),
    });
    const body = (await res.json()) as { access_token: string; token_type: string };
    expect(res.status).toBe(200);
    expect(body.token_type).toBe('DPoP');
    this.token = body.access_token;
  }

  /** Subscribe before publishing: a group of our own, at the end of the reply topic. */
  async listen(kafka: Kafka): Promise<void> {
    this.consumer = kafka.consumer({
      groupId: `${prefix}sdk.${enc(this.tenantId)}.${enc(this.agentId)}.${randomUUID()}`,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.replyTopic], fromBeginning: false });
    const joined = new Promise<void>((resolve) => this.consumer!.on(this.consumer!.events.GROUP_JOIN, () => resolve()));
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        const contentType = header(message.headers, 'content-type') ?? '';
        const decision =
          contentType === 'application/json'
            ? fromJson(GateDecidedSchema, JSON.parse(message.value!.toString('utf8')))
            : fromBinary(GateDecidedSchema, message.value!);
        this.replies.push({ decision, contentType, traceparent: header(message.headers, 'traceparent') });
      },
    });
    await joined;
  }

  /** A request body (protobuf-JSON) with its token and proof. */
  request(fields: Json): Json {
    const r: Json = {
      requestId: randomUUID(),
      tenantId: this.tenantId,
      agentId: this.agentId,
      requestedAtMs: Date.now(),
      deadlineMs: Date.now() + 15_000,
      agentToken: this.token,
      ...fields,
    };
    const proof = jws(
      'warden-request+jwt',
      {
        rid: r.requestId,
        req: digest(proofInput(r, r.agentToken as string)),
        iat: Math.floor((r.requestedAtMs as number) / 1000),
      },
      this.key,
    );
    return { ...r, requestProof: proof };
  }

  reply(requestId: string, n = 1): Promise<Reply> {
    return eventually(
      () => {
        const got = this.replies.filter((x) => x.decision.requestId === requestId);
        return got.length >= n && got[n - 1];
      },
      20_000,
      `reply ${n} to ${requestId}`,
    );
  }

  async close(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return v === undefined ? undefined : String(Array.isArray(v) ? v[0] : v);
}

const ceHeaders = (r: Json, contentType: string, extra: Record<string, string> = {}) => ({
  ce_specversion: '1.0',
  ce_type: 'warden.gate.v1.GateRequested',
  ce_id: String(r.requestId ?? randomUUID()),
  ce_source: `agent://${String(r.tenantId)}/${String(r.agentId)}`,
  ce_time: new Date().toISOString(),
  'content-type': contentType,
  ce_tenantid: String(r.tenantId ?? ''),
  ce_agentid: String(r.agentId ?? ''),
  ce_runid: String(r.runId ?? ''),
  ...extra,
});

// ---------------------------------------------------------------------------------------------

const prefix = uniquePrefix('protocol');

describe('the gate protocol, from docs/protocol.md alone (raw Kafka client, agent tokens required)', () => {
  const offset = 2000 + Math.floor(Math.random() * 50) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const globexAdmin: Identity = { subject: 'gina', roles: ['admin'], tenant: 'globex' };
  let db: { url: string; drop(): Promise<void> };
  let stack: Stack;
  let kafka: Kafka;
  let producer: Producer;
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let partitions = 0;
  const agent = new RawAgent('acme', 'proto-bot');
  const peer = new RawAgent('acme', 'peer-bot');
  const stranger = new RawAgent('globex', 'globex-bot');

  async function register(who: Identity, a: RawAgent, pin: ContractPin) {
    const registered = await call(stack.urls.registry, 'POST', '/agents', who, {
      agentId: a.agentId,
      mission: 'answer tickets',
      owner: { team: 'support', contact: 'support@example.com' },
      businessProcess: 'support',
      model: 'gpt-5',
      tools: [{ tool: 'tickets', actions: ['read'], ...pin }],
      environments: ['prod'],
      autonomyLevel: 2,
      shutdownPath: 'disable the ticket connector',
      reason: 'protocol conformance',
    });
    expect(registered.status).toBe(201);
    expect(
      (
        await call(stack.urls.registry, 'POST', `/agents/${a.agentId}/activate`, who, {
          expectedVersion: registered.body.version,
          reason: 'protocol conformance',
        })
      ).status,
    ).toBe(200);
    const credential = await call(stack.urls.registry, 'POST', `/agents/${a.agentId}/credentials`, who, {
      kind: 'client_secret',
      reason: 'protocol conformance',
    });
    await a.login(stack.urls.registry, credential.body.clientSecret as string);
    await a.listen(kafka);
  }

  const send = async (
    r: Json,
    options: { json?: boolean; partition?: number; key?: string; headers?: Record<string, string> } = {},
  ) => {
    const json = options.json ?? true;
    // Binary: the generated protobuf message of gate.proto (strict protobuf-JSON wants full enum names).
    const strict = { ...r, actionKind: `ACTION_KIND_${String(r.actionKind).toUpperCase()}` };
    const value = json
      ? Buffer.from(JSON.stringify(r))
      : Buffer.from(toBinary(GateRequestedSchema, fromJson(GateRequestedSchema, strict as never)));
    await producer.send({
      topic: `${prefix}gate.requests`,
      acks: -1,
      messages: [
        {
          key: options.key ?? randomUUID(),
          partition: options.partition ?? Math.floor(Math.random() * partitions),
          value,
          headers: ceHeaders(r, json ? 'application/json' : 'application/protobuf', options.headers),
        },
      ],
    });
  };
  const read = (runId: string) => ({
    runId,
    actionKind: 'tool_call',
    tool: 'tickets',
    action: 'read',
    arguments: { ticket: 42, note: 'customer asked twice' },
    environment: 'prod',
    estimatedTokens: 10,
  });

  beforeAll(async () => {
    db = await freshDatabase('protocol');
    stack = await startStack({
      brokers: kafkaBrokers().join(','),
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir: join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix),
      env: { WARDEN_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
    });
    kafka = new Kafka({ clientId: 'protocol-agent', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    port = await connectedPort('protocol');
    partitions = (await port.watermarks(`${prefix}gate.requests`)).length;
    recorder = await TopicRecorder.start(port, prefix, [
      Topic.gateDecisions,
      Topic.deadLetter,
      Topic.budgetReservations,
    ]);
    const acme = await publishToolContracts(stack.urls.registry, admin, {
      tickets: { description: 'tickets', ownerTeam: 'support', actions: [['read', 'low', false]] },
    });
    const globex = await publishToolContracts(stack.urls.registry, globexAdmin, {
      tickets: { description: 'tickets', ownerTeam: 'support', actions: [['read', 'low', false]] },
    });
    await register(admin, agent, acme.tickets);
    await register(admin, peer, acme.tickets);
    await register(globexAdmin, stranger, globex.tickets);
    // The gate reads the registry from Kafka: wait until it allows the agent.
    await eventually(
      async () => {
        const r = agent.request(read('run-warmup'));
        await send(r);
        return (await agent.reply(r.requestId as string)).decision.verdict === 1;
      },
      60_000,
      'the gate to allow the registered agent',
    );
  });

  afterAll(async () => {
    for (const a of [agent, peer, stranger]) await a.close();
    await producer?.disconnect();
    await recorder?.stop();
    await port?.close();
    if (stack) await stack.stop();
    await db?.drop();
  });

  it('decides a JSON request on a random partition with a random key, and replies in JSON with a verifiable token', async () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'protocol.md'), 'utf8');
    const example = JSON.parse(/<!-- protocol-example:request -->\s*```json\n([\s\S]*?)```/.exec(doc)![1]) as Json;
    // The page's example, with a fresh id and times, and a real token and proof.
    const { agentToken: _t, requestProof: _p, requestId: _i, requestedAtMs: _a, deadlineMs: _d, ...fields } = example;
    const r = agent.request(fields);
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    await send(r, { headers: { traceparent: `00-${traceId}-${spanId}-01` } });
    const { decision, contentType, traceparent } = await agent.reply(r.requestId as string);
    expect(contentType).toBe('application/json');
    // The gate's stages continue the agent's trace with spans of their own.
    const [, replyTrace, replySpan] = (traceparent ?? '').split('-');
    expect(replyTrace).toBe(traceId);
    expect(replySpan).toMatch(/^[0-9a-f]{16}$/);
    expect(replySpan).not.toBe(spanId);
    expect(decision).toMatchObject({ verdict: 1, final: true });
    const [, claims] = decision.decisionToken.split('.');
    expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toMatchObject({
      aud: 'tickets',
      act: 'read',
      rid: r.requestId,
      args: digest(example.arguments),
    });
    // The request of record: digested and redacted by the gate, no credential left in it.
    expect(decision.request).toMatchObject({
      argumentsDigest: digest(example.arguments),
      agentToken: '',
      requestProof: '',
      agentTokenId: expect.any(String),
    });
    expect(decision.request?.arguments).toBeUndefined();
  });

  it('answers a protobuf request in protobuf, and a JSON request in protobuf when asked', async () => {
    const r = agent.request(read('run-proto'));
    await send(r, { json: false });
    expect((await agent.reply(r.requestId as string)).contentType).toBe('application/protobuf');
    const asked = agent.request(read('run-proto'));
    await send(asked, { headers: { 'warden-reply-content-type': 'application/protobuf' } });
    expect((await agent.reply(asked.requestId as string)).contentType).toBe('application/protobuf');
  });

  it('decides each request of a run once, whatever partition it arrives on, and releases every denied hold', async () => {
    const run = `run-scatter-${randomUUID().slice(0, 8)}`;
    const requests = Array.from({ length: 12 }, (_, i) =>
      agent.request(i % 3 === 0 ? { ...read(run), action: 'write' } : read(run)),
    );
    for (const r of requests) await send(r, { partition: Math.floor(Math.random() * partitions) });
    for (const r of requests) await agent.reply(r.requestId as string);
    const ids = new Set(requests.map((r) => r.requestId as string));
    const decided = await eventually(() => {
      const d = recorder.events(Topic.gateDecisions).filter((e) => ids.has((e.data as GateDecided).requestId));
      return d.length >= requests.length && d;
    });
    expect(decided).toHaveLength(requests.length);
    const denied = requests.filter((_, i) => i % 3 === 0).map((r) => r.requestId as string);
    await eventually(
      () => {
        const released = recorder
          .events(Topic.budgetReservations)
          .filter((e) => e.type === 'warden.budget.v1.BudgetReleased')
          .map((e) => (e.data as unknown as { requestId: string }).requestId);
        return denied.every((id) => released.includes(id));
      },
      20_000,
      'the holds of the denied requests released',
    );
  });

  it.each<[string, (r: Json) => Json, string, string]>([
    ['a misspelt field', (r) => ({ ...r, environmnet: 'prod' }), 'environmnet', 'unknown_field'],
    ['no deadline', (r) => ({ ...r, deadlineMs: undefined }), 'deadlineMs', 'missing_field'],
    ['an unknown action kind', (r) => ({ ...r, actionKind: 'toolcall' }), 'actionKind', 'invalid_value'],
    [
      'a digest of other arguments',
      (r) => ({ ...r, argumentsDigest: digest({ ticket: 1 }) }),
      'argumentsDigest',
      'digest_mismatch',
    ],
  ])('answers %s at once with a deny naming the field, and dead-letters it once', async (_name, spoil, field, code) => {
    const r = spoil(agent.request(read('run-bad')));
    await send(r);
    const { decision } = await agent.reply(r.requestId as string);
    expect(decision.verdict).toBe(2);
    expect(decision.reason).toContain(`field ${field}`);
    expect(decision.context?.evaluations[0]?.policyId).toBe(`warden.request.${code}`);
    const dead = await eventually(() => {
      const d = recorder.on(Topic.deadLetter).filter((x) => x.headers.ce_id === r.requestId);
      return d.length > 0 && d;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(recorder.on(Topic.deadLetter).filter((x) => x.headers.ce_id === r.requestId)).toHaveLength(1);
    expect(dead[0].headers).toMatchObject({ warden_dlq_consumer: 'budget-reservations' });
    // No credential rests in a dead letter.
    expect(dead[0].value!.toString('latin1')).not.toContain(agent.token);
  });

  it('answers a body it cannot read from the CloudEvents headers', async () => {
    const requestId = randomUUID();
    await producer.send({
      topic: `${prefix}gate.requests`,
      messages: [
        {
          key: 'x',
          value: Buffer.from('{ not json'),
          headers: ceHeaders({ requestId, tenantId: agent.tenantId, agentId: agent.agentId }, 'application/json'),
        },
      ],
    });
    const { decision } = await agent.reply(requestId);
    expect(decision).toMatchObject({ verdict: 2, final: true });
    expect(decision.context?.evaluations[0]?.policyId).toBe('warden.request.undecodable_data');
  });

  it('denies an agent limited to prod that names no environment (fail closed)', async () => {
    const { environment: _e, ...fields } = read('run-no-env');
    const r = agent.request(fields);
    await send(r);
    const { decision } = await agent.reply(r.requestId as string);
    expect(decision.verdict).toBe(2);
    expect(decision.reason).toContain('without naming its environment');
  });

  it('answers a duplicate request id with the same decision and the same token', async () => {
    const r = agent.request(read('run-dup'));
    await send(r);
    const first = await agent.reply(r.requestId as string);
    await send(r, { partition: Math.floor(Math.random() * partitions) });
    const second = await agent.reply(r.requestId as string, 2);
    expect(second.decision.decisionId).toBe(first.decision.decisionId);
    expect(second.decision.decisionToken).toBe(first.decision.decisionToken);
  });

  it('refuses a token without its key, and a proof on any other request', async () => {
    const original = agent.request(read('run-reuse'));
    await send(original);
    expect((await agent.reply(original.requestId as string)).decision.verdict).toBe(1);
    // Someone who read the token and the proof off a topic, with a key of their own:
    const thief = new RawAgent('acme', 'proto-bot');
    thief.token = agent.token;
    const withOwnKey = thief.request(read('run-reuse'));
    await send(withOwnKey);
    const copiedProof = { ...agent.request(read('run-reuse')), requestProof: original.requestProof };
    await send(copiedProof);
    const noProof = { ...agent.request(read('run-reuse')), requestProof: undefined };
    await send(noProof);
    const attempts: [Json, string][] = [
      [withOwnKey, 'signed by another key'],
      [copiedProof, 'is for request'],
      [noProof, 'no request_proof'],
    ];
    for (const [r, why] of attempts) {
      const { decision } = await agent.reply(r.requestId as string);
      expect(decision.verdict).toBe(2);
      expect(decision.reason).toContain(why);
    }
  });

  it('counts an outcome only when the agent that proved the request reports it', async () => {
    const r = agent.request(read('run-outcome'));
    await send(r);
    await agent.reply(r.requestId as string);
    const outcome = {
      requestId: r.requestId,
      tenantId: agent.tenantId,
      agentId: agent.agentId,
      runId: r.runId,
      stepId: r.requestId,
      idempotencyKey: `${String(r.runId)}:${String(r.requestId)}`,
      actualTokens: 7,
      durationMs: 12,
      resultDigest: digest({ status: 'open' }),
      completedAtMs: Date.now(),
    };
    // The outcome proof's input, field by field as the page lists it.
    const out = (proofKey: RawAgent['key']) =>
      jws(
        'warden-outcome+jwt',
        {
          rid: outcome.requestId,
          out: digest({
            status: 'completed',
            requestId: outcome.requestId,
            tenantId: outcome.tenantId,
            agentId: outcome.agentId,
            runId: outcome.runId,
            stepId: outcome.stepId,
            idempotencyKey: outcome.idempotencyKey,
            actualTokens: outcome.actualTokens,
            actualCost: null,
            durationMs: outcome.durationMs,
            resultDigest: outcome.resultDigest,
            error: '',
            retryable: false,
          }),
        },
        proofKey,
      );
    const publish = (body: Json) =>
      producer.send({
        topic: `${prefix}gate.outcomes`,
        messages: [
          {
            key: String(r.runId),
            value: Buffer.from(JSON.stringify(body)),
            headers: {
              ...ceHeaders(r, 'application/json'),
              ce_type: 'warden.gate.v1.StepCompleted',
              ce_id: randomUUID(),
            },
          },
        ],
      });
    // Another key's report is refused; the agent's own is counted.
    await publish({ ...outcome, outcomeProof: out(new RawAgent('acme', 'proto-bot').key) });
    await publish({ ...outcome, outcomeProof: out(agent.key) });
    const settled = await eventually(() =>
      recorder
        .events(Topic.budgetReservations)
        .find(
          (e) =>
            e.type === 'warden.budget.v1.BudgetSettled' &&
            (e.data as unknown as { requestId: string }).requestId === r.requestId,
        ),
    );
    expect(settled.data).toMatchObject({ actualTokens: 7 });
    const forged = recorder.on(Topic.deadLetter).filter((x) => x.headers.warden_dlq_code === 'invalid:outcome_proof');
    expect(forged.length).toBeGreaterThan(0);
  });

  it('never shows an agent another agent’s decisions: each reply topic holds its own agent’s only', async () => {
    const r = stranger.request(read('run-globex'));
    await send(r);
    expect((await stranger.reply(r.requestId as string)).decision.verdict).toBe(1);
    const mine = agent.request(read('run-acme'));
    await send(mine);
    await agent.reply(mine.requestId as string);
    await peer.reply(
      await (async () => {
        const p = peer.request(read('run-peer'));
        await send(p);
        return p.requestId as string;
      })(),
    );
    expect(agent.replies.every((x) => x.decision.agentId === agent.agentId && x.decision.tenantId === 'acme')).toBe(
      true,
    );
    expect(peer.replies.every((x) => x.decision.agentId === peer.agentId)).toBe(true);
    expect(stranger.replies.every((x) => x.decision.tenantId === 'globex')).toBe(true);
  });

  it('leaves no reusable credential on any topic or table: every token and proof found is tried on another request', async () => {
    const JWS = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}/g;
    const claimsOf = (jwt: string) => {
      const [h, p] = jwt.split('.').map((x) => {
        try {
          return JSON.parse(Buffer.from(x, 'base64url').toString('utf8')) as Json;
        } catch {
          return {};
        }
      });
      return { header: h, claims: p };
    };
    // Every record of every topic of this installation, from the beginning.
    const admin = kafka.admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    const found = new Map<string, Set<string>>();
    for (const topic of topics) {
      const high = await admin.fetchTopicOffsets(topic);
      const total = high.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
      if (total === 0) continue;
      const consumer = kafka.consumer({ groupId: `${prefix}scan.${randomUUID()}` });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let seen = 0;
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            const text = [
              message.value?.toString('latin1') ?? '',
              ...Object.values(message.headers ?? {}).map(String),
            ].join(' ');
            for (const jwt of text.match(JWS) ?? [])
              found.set(jwt, (found.get(jwt) ?? new Set()).add(topic.slice(prefix.length)));
            if (++seen >= total) resolve();
          },
        });
      });
      await consumer.disconnect();
    }
    await admin.disconnect();
    const kinds = (kind: (h: Json, c: Json) => boolean) =>
      [...found].filter(([jwt]) => {
        const { header, claims } = claimsOf(jwt);
        return kind(header, claims);
      });
    const agentTokens = kinds((_h, c) => c.iss === 'warden-registry');
    const proofs = kinds((h) => h.typ === 'warden-request+jwt');
    const decisionTokens = kinds((_h, c) => c.iss === 'warden-policy');
    expect(agentTokens.length).toBeGreaterThan(0);
    expect(proofs.length).toBeGreaterThan(0);
    // Tokens and proofs rest only where raw input is (the gate's ingress and its answer to policy);
    // decision tokens only on the agents' own reply topics.
    for (const [, where] of [...agentTokens, ...proofs]) {
      expect([...where].every((t) => ['gate.requests', 'gate.rerouted', 'budget.reservations'].includes(t))).toBe(true);
    }
    for (const [, where] of decisionTokens) expect([...where].every((t) => t.startsWith('replies.'))).toBe(true);
    // Nothing in any table of the services' database.
    const { Client } = await import('pg');
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    const tables = await pg.query(
      `SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    for (const { table_schema, table_name } of tables.rows as { table_schema: string; table_name: string }[]) {
      const rows = await pg.query(`SELECT row_to_json(t)::text AS row FROM "${table_schema}"."${table_name}" t`);
      for (const { row } of rows.rows as { row: string }[]) expect(row.match(JWS) ?? []).toEqual([]);
    }
    await pg.end();
    // Each token found, used by someone with another key; each proof found, on another request.
    const attempts: Json[] = [];
    for (const [token] of agentTokens) {
      const { claims } = claimsOf(token);
      const thief = new RawAgent(String(claims.tenant), String(claims.sub));
      thief.token = token;
      attempts.push(thief.request(read('run-thief')));
    }
    for (const [proof] of proofs) attempts.push({ ...agent.request(read('run-thief')), requestProof: proof });
    const mine = attempts.filter((r) => r.agentId === agent.agentId);
    await Promise.all(attempts.map((r) => send(r)));
    for (const r of mine) {
      const { decision } = await agent.reply(r.requestId as string);
      expect(decision.verdict).toBe(2);
      expect(decision.reason).toMatch(/request proof|another key|for request/);
    }
    // Attempts as the other agents are decided too (on gate.decisions): all denied.
    const others = new Set(attempts.filter((r) => r.agentId !== agent.agentId).map((r) => r.requestId as string));
    const theirs = await eventually(() => {
      const d = recorder.events(Topic.gateDecisions).filter((e) => others.has((e.data as GateDecided).requestId));
      return d.length >= others.size && d;
    });
    for (const e of theirs) expect((e.data as GateDecided).verdict).toBe(2);
  });
});
