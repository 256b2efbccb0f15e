import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  argumentsDigest,
  decode,
  encode,
  GateDecided,
  GateDecidedSchema,
  is,
  replyTopic,
  tenantGroupPrefix,
  encodeTopicPart,
  Topic,
  topicName,
  Verdict,
} from '@warden/contracts';
import { eventually, freshDatabase, uniquePrefix } from '@warden/platform/testing';
import { ConsumerHandle, KafkaPort } from '@warden/platform';
import { buildRequest, GateInput, VerdictName, WardenClient } from '@warden/sdk';
import { DEFAULT_PORTS, publishToolContracts, SERVICES, ServiceName, Stack } from '@warden/local-stack';
import { call, Identity } from './http';
import { SecuredStack, startSecuredStack } from './secure-broker';

/**
 * ADR 0013's autonomy scale (enforced as `warden.autonomy`, docs/adr/0115) on a broker with the
 * authorizer on: five agents at levels 0 to 4, each its own principal with its own SDK client, ask
 * for a tool action of each risk class, a model call and a memory write; every cell's verdict is
 * the table's. And a request whose argumentsDigest is not its arguments' digest, published raw as
 * the agent, is denied at once naming the field and never becomes an approval task.
 */
jest.setTimeout(240_000);

type Cell = 'low' | 'medium' | 'high' | 'critical' | 'model_call' | 'memory_write';
const CELLS: readonly Cell[] = ['low', 'medium', 'high', 'critical', 'model_call', 'memory_write'];

/** ADR 0013 / 0115's table, written out: what each level gets for each action. */
const EXPECTED: Readonly<Record<number, Readonly<Record<Cell, VerdictName>>>> = {
  0: {
    low: 'deny',
    medium: 'deny',
    high: 'deny',
    critical: 'deny',
    model_call: 'allow',
    memory_write: 'deny',
  },
  1: {
    low: 'pending_approval',
    medium: 'pending_approval',
    high: 'pending_approval',
    critical: 'pending_approval',
    model_call: 'allow',
    memory_write: 'pending_approval',
  },
  2: {
    low: 'allow',
    medium: 'pending_approval',
    high: 'pending_approval',
    critical: 'pending_approval',
    model_call: 'allow',
    memory_write: 'allow',
  },
  3: {
    low: 'allow',
    medium: 'allow',
    high: 'pending_approval',
    critical: 'deny',
    model_call: 'allow',
    memory_write: 'allow',
  },
  4: {
    low: 'allow',
    medium: 'allow',
    high: 'allow',
    critical: 'pending_approval',
    model_call: 'allow',
    memory_write: 'allow',
  },
};
const LEVEL_NAMES = [
  'suggest only',
  'act with approval on every tool call',
  'act within low risk',
  'act within medium risk',
  'fully autonomous within budgets',
];
/** The `warden.autonomy` evaluation's result for each verdict the level gives. */
const RESULT: Record<string, string> = { allow: 'pass', deny: 'deny', pending_approval: 'require_approval' };

/** The ops tool's actions, one per risk class; none requires approval of its own. */
const ACTIONS: Record<'low' | 'medium' | 'high' | 'critical', string> = {
  low: 'lookup',
  medium: 'edit',
  high: 'deploy',
  critical: 'wipe',
};

const LEVELS = [0, 1, 2, 3, 4];
const agentId = (level: number) => `level-${level}-bot`;
const user = (level: number) => `level${level}`;

describe('autonomy levels on a broker with ACLs on (ADR 0013, 0115)', () => {
  const prefix = uniquePrefix('e2e-autonomy');
  const offset = 3500 + Math.floor(Math.random() * 50) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const ann: Identity = { subject: 'ann', roles: ['approver'], tenant: 'acme' };
  let db: { url: string; drop(): Promise<void> };
  let secured: SecuredStack;
  let stack: Stack;
  const clients = new Map<number, WardenClient>();

  const input = (level: number, cell: Cell, runId: string): GateInput => {
    const common = { runId, environment: 'prod', estimatedTokens: 10 };
    if (cell === 'model_call') return { ...common, action: { kind: 'model_call' }, model: 'gpt-5' };
    if (cell === 'memory_write') {
      return { ...common, action: { kind: 'memory_write' }, memory: { store: 'notes', class: 'SESSION' } };
    }
    return {
      ...common,
      action: { kind: 'tool_call', tool: 'ops', name: ACTIONS[cell] },
      arguments: { target: `svc-${level}` },
    };
  };
  const openTasks = async () =>
    (await call<Record<string, unknown>[]>(stack.urls.approval, 'GET', '/tasks?status=open', ann)).body;

  beforeAll(async () => {
    db = await freshDatabase('e2e_autonomy');
    secured = await startSecuredStack({
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir: join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix),
      // Each agent its own principal: it may write gate requests and read only its own replies.
      principals: Object.fromEntries(LEVELS.map((l) => [user(l), `agent:acme/${agentId(l)}`])),
      // The agents here are identified by their registration, not by agent tokens (tested elsewhere).
      env: { POLICY_AGENT_TOKENS: 'optional' },
    });
    stack = secured.stack;
    // An allow carries a decision token: the registry must have a decision-token signing key.
    const key = await call(
      stack.urls.registry,
      'POST',
      '/keys/rotate',
      { ...admin, roles: ['platform-admin'] },
      { use: 'decision_token', reason: 'e2e' },
    );
    expect(key.status).toBe(200);
    const { ops } = await publishToolContracts(stack.urls.registry, admin, {
      ops: {
        description: 'operates the services',
        ownerTeam: 'ops',
        actions: [
          [ACTIONS.low, 'low', false],
          [ACTIONS.medium, 'medium', false],
          [ACTIONS.high, 'high', false],
          [ACTIONS.critical, 'critical', false],
        ],
      },
    });
    for (const level of LEVELS) {
      const registered = await call(stack.urls.registry, 'POST', '/agents', admin, {
        agentId: agentId(level),
        mission: 'keep the services running',
        owner: { team: 'ops', contact: 'ops@example.com' },
        businessProcess: 'operations',
        model: 'gpt-5',
        tools: [{ tool: 'ops', actions: Object.values(ACTIONS), ...ops }],
        memory: [{ store: 'notes', memoryClass: 'session', read: true, write: true }],
        environments: ['prod'],
        autonomyLevel: level,
        shutdownPath: 'disable the ops connector',
        reason: 'e2e',
      });
      expect(registered.status).toBe(201);
      const activated = await call(stack.urls.registry, 'POST', `/agents/${agentId(level)}/activate`, admin, {
        expectedVersion: registered.body.version,
        reason: 'e2e',
      });
      expect(activated.status).toBe(200);
      clients.set(
        level,
        await WardenClient.connect({
          brokers: secured.broker.brokers,
          topicPrefix: prefix,
          clientId: `e2e-${agentId(level)}`,
          agent: { tenantId: 'acme', agentId: agentId(level) },
          security: secured.security(user(level)),
        }),
      );
    }
  });

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await secured?.stop();
    await db?.drop();
  });

  it("gives every (level, action) cell ADR 0013's verdict, and names the level in warden.autonomy", async () => {
    // The registry's last agent reached the gate once its model call is allowed.
    await eventually(
      async () => {
        const r = await clients.get(4)!.gate(input(4, 'model_call', 'run-warm-up'), { timeoutMs: 10_000 });
        return r.verdict === 'allow' || undefined;
      },
      30_000,
      'the registry to reach the gate',
    );
    const got: Record<number, Record<string, string>> = {};
    const reasons: string[] = [];
    for (const level of LEVELS) {
      got[level] = {};
      for (const cell of CELLS) {
        const r = await clients.get(level)!.gate(input(level, cell, `run-${level}-${cell}`), { timeoutMs: 10_000 });
        got[level][cell] = r.verdict;
        const autonomy = r.decision?.context?.evaluations.find((e) => e.policyId === 'warden.autonomy');
        // The evaluation names the level applied and gives the level's own answer.
        const prefixOk = autonomy?.reason.startsWith(`autonomy level ${level} (${LEVEL_NAMES[level]}): `);
        const resultOk = autonomy?.result === RESULT[EXPECTED[level][cell]];
        if (!prefixOk || !resultOk || autonomy?.version !== 'builtin-2') {
          reasons.push(`level ${level} ${cell}: ${JSON.stringify(autonomy)} (${r.reason})`);
        }
        // A deny is the autonomy's own: the level is what refused it.
        if (r.verdict === 'deny' && r.reason !== autonomy?.reason) {
          reasons.push(`level ${level} ${cell} denied by another stage: ${r.reason}`);
        }
      }
    }
    expect(got).toEqual(EXPECTED);
    expect(reasons).toEqual([]);
  });

  it('denies at once a request whose argumentsDigest is not its arguments digest, naming the field; no approval task opens', async () => {
    // The level-4 agent's critical action would wait for approval; the agent's own principal
    // publishes it raw (the SDK always computes the right digest) with the digest of other arguments.
    const level = 4;
    const id = agentId(level);
    const runId = `run-digest-${randomUUID().slice(0, 8)}`;
    const asAgent: KafkaPort = await secured.portAs(user(level));
    const replies: GateDecided[] = [];
    const topic = `${prefix}${replyTopic('acme', id)}`;
    const startAt = (await asAgent.watermarks(topic)).map((w) => ({ topic, partition: w.partition, offset: w.high }));
    let joined!: () => void;
    const ready = new Promise<void>((resolve) => (joined = resolve));
    const handle: ConsumerHandle = await asAgent.consume({
      groupId: `${prefix}${tenantGroupPrefix('acme')}${encodeTopicPart(id)}.${randomUUID()}`,
      topics: [topic],
      fromBeginning: false,
      commitOffsets: false,
      startAt,
      onAssigned: () => joined(),
      onBatch: async (_t, _p, records) => {
        for (const record of records) {
          const envelope = decode(Topic.gateDecisions, record);
          if (is(envelope, GateDecidedSchema)) replies.push(envelope.data);
        }
        return records.at(-1)?.offset;
      },
    });
    try {
      await ready;
      const sent = buildRequest(
        { ...input(level, 'critical', runId), tenantId: 'acme', agentId: id, requestId: randomUUID() },
        Date.now(),
        15_000,
      );
      expect(sent.argumentsDigest).toBe(argumentsDigest({ target: `svc-${level}` }));
      sent.argumentsDigest = argumentsDigest({ target: 'svc-other' });
      const wire = encode({
        id: sent.requestId,
        type: sent.$typeName,
        source: 'warden://sdk/e2e-raw',
        time: Date.now(),
        key: runId,
        tenantId: 'acme',
        agentId: id,
        runId,
        data: sent,
      });
      await asAgent.publish([{ topic: topicName(prefix, Topic.gateRequests), ...wire }]);
      const denied = await eventually(
        () => replies.find((d) => d.requestId === sent.requestId),
        30_000,
        'the deny on the agent reply topic',
      );
      expect(denied).toMatchObject({ verdict: Verdict.DENY, final: true });
      expect(denied.reason).toContain('field argumentsDigest');
      expect(denied.context?.evaluations.map((e) => e.policyId)).toEqual(['warden.request.digest_mismatch']);

      // The same action with the right digest, on the same run and after the deny, waits for
      // approval and opens a task ...
      const genuine = await clients.get(level)!.gate(input(level, 'critical', runId), { timeoutMs: 10_000 });
      expect(genuine.verdict).toBe('pending_approval');
      await eventually(
        async () => (await openTasks()).some((t) => t.requestId === genuine.requestId) || undefined,
        30_000,
        'the approval task of the genuine request',
      );
      // ... and the mismatched one has none, and got no other decision.
      expect((await openTasks()).filter((t) => t.requestId === sent.requestId)).toEqual([]);
      expect(replies.filter((d) => d.requestId === sent.requestId)).toHaveLength(1);
    } finally {
      await handle.stop();
    }
  });
});
