import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  ActionKind,
  BudgetDefinedSchema,
  BudgetReservedSchema,
  BudgetScope,
  create,
  Dimension,
  encode,
  GateDecided,
  GateRequestedSchema,
  LimitSchema,
  Message,
  Topic,
  TopicName,
  topicName,
  Verdict,
  Window,
} from '@warden/contracts';
import {
  connectedPort,
  eventually,
  freshDatabase,
  kafkaBrokers,
  publishEvent,
  signedAsOwners,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { KafkaPort } from '@warden/platform';
import { WardenClient } from '@warden/sdk';
import {
  ContractPin,
  DEFAULT_PORTS,
  publishToolContracts,
  SERVICES,
  ServiceName,
  Stack,
  startStack,
} from '@warden/local-stack';
import { call, Identity, PinnedTool, registerActiveAgent } from './http';

/**
 * The walking skeleton through all six services as separate processes on the real broker:
 * an agent asks the gate, budget reserves, policy decides, the agent gets the decision, trace
 * records it, and a kill switch engaged over HTTP makes later requests in its scope deny.
 */
jest.setTimeout(180_000);

describe('the gate, end to end across six processes', () => {
  const prefix = uniquePrefix('e2e');
  const offset = 1000 + Math.floor(Math.random() * 50) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const sre: Identity = { subject: 'sam', roles: ['sre'], tenant: 'acme' };
  const globexAdmin: Identity = { subject: 'gina', roles: ['admin'], tenant: 'globex' };
  let db: { url: string; drop(): Promise<void> };
  let stack: Stack;
  /** One SDK client per agent: a client receives only its own agent's decisions. */
  const clients = new Map<string, WardenClient>();
  let port: KafkaPort;
  let recorder: TopicRecorder;
  const kek = randomBytes(32);
  const pins: Record<string, ContractPin> = {};

  /** The payroll tool's contract, published by each tenant's admin through the registry; agents pin it. */
  async function publishContracts() {
    for (const who of [admin, globexAdmin]) {
      const published = await publishToolContracts(stack.urls.registry, who, {
        payroll: { description: 'the payroll system', ownerTeam: 'payroll', actions: [['read', 'low', false]] },
      });
      pins[who.tenant] = published.payroll;
    }
  }
  const pinned = (tenant: string, actions: string[]) => [{ tool: 'payroll', actions, ...pins[tenant] }];

  const gate = (agentId: string, tenantId: string, runId: string, tool: string, action: string) =>
    clients.get(agentId)!.gate(
      {
        tenantId,
        agentId,
        runId,
        environment: 'prod',
        action: { kind: 'tool_call', tool, name: action },
        estimatedTokens: 10,
      },
      { timeoutMs: 10_000 },
    );

  async function registerAgent(who: Identity, agentId: string, tools: PinnedTool[]) {
    await registerActiveAgent(stack.urls.registry, who, agentId, tools);
    clients.set(
      agentId,
      await WardenClient.connect({
        brokers: kafkaBrokers(),
        topicPrefix: prefix,
        clientId: `e2e-${agentId}`,
        agent: { tenantId: who.tenant, agentId },
      }),
    );
  }

  beforeAll(async () => {
    db = await freshDatabase('e2e');
    stack = await startStack({
      brokers: kafkaBrokers().join(','),
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir: join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix),
      // This agent is identified by its registration; agent tokens are exercised by the demo and the registry and policy tests.
      env: { WARDEN_KEY_ENCRYPTION_KEY: kek.toString('base64'), POLICY_AGENT_TOKENS: 'optional' },
    });
    port = await connectedPort('e2e');
    recorder = await TopicRecorder.start(port, prefix, [
      Topic.deadLetter,
      Topic.budgetReservations,
      Topic.gateDecisions,
    ]);
    await publishContracts();
    await registerAgent(admin, 'payroll-bot', pinned('acme', ['read']));
    await registerAgent(globexAdmin, 'globex-bot', pinned('globex', ['read']));
  });

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await recorder?.stop();
    await port?.close();
    if (stack) await stack.stop();
    await db?.drop();
  });

  it('allows a granted tool call: budget reserves, policy decides, the agent hears it, trace records it', async () => {
    const result = await eventually(
      async () => {
        const r = await gate('payroll-bot', 'acme', 'run-allow', 'payroll', 'read');
        return r.verdict === 'allow' ? r : undefined;
      },
      30_000,
      'the registry to reach the gate',
    );
    expect(result.decision!.context!.reservation).toMatchObject({ granted: true, reservedTokens: 10 });
    expect(result.decision!.context!.evaluations.map((e) => e.policyId)).toEqual([
      'warden.deadline',
      'warden.killswitch',
      'warden.registry.agent',
      'warden.registry.environment',
      'warden.registry.tool',
      'warden.registry.contract-pin',
      'warden.registry.signature',
      'warden.idempotency',
      'warden.contract.input',
      'warden.contract.data-classes',
      'warden.contract.prohibitions',
      'warden.rules',
      'warden.risk',
      'warden.autonomy',
      'warden.approval',
      'warden.budget',
    ]);
    // The registered agent's autonomy level (2) lets a low-risk call through, and the decision says so (ADR 0013).
    expect(result.decision!.context!.evaluations.find((e) => e.policyId === 'warden.autonomy')).toMatchObject({
      result: 'pass',
      reason: 'autonomy level 2 (act within low risk): a low-risk tool call is within it',
    });
    expect(result.decision!.decisionToken).not.toBe('');
    // The token travels only on the agent's reply topic; gate.decisions records its digest.
    const recorded = await eventually(() =>
      recorder
        .events(Topic.gateDecisions)
        .map((e) => e.data as GateDecided)
        .find((d) => d.requestId === result.requestId),
    );
    expect(recorded.decisionToken).toBe('');
    expect(recorded.decisionTokenDigest).toMatch(/^[0-9a-f]{64}$/);
    const traced = await eventually(
      async () => {
        const r = await call(stack.urls.trace, 'GET', `/requests/${result.requestId}`, admin);
        return r.status === 200 && r.body.verdict ? r.body : undefined;
      },
      20_000,
      'the trace record',
    );
    expect(traced.verdict).toBe('allow');
    const decision = await eventually(
      async () => {
        const r = await call(stack.urls.policy, 'GET', `/decisions/${result.requestId}`, admin);
        return r.status === 200 && r.body;
      },
      20_000,
      "policy's decisions projection",
    );
    expect(decision).toMatchObject({ verdict: 'allow', runId: 'run-allow' });
  });

  it('denies what the registry does not allow: an action outside the envelope, an unknown agent', async () => {
    const write = await gate('payroll-bot', 'acme', 'run-deny', 'payroll', 'write');
    expect(write.verdict).toBe('deny');
    expect(write.reason).toContain('outside the agent');
    // An unregistered agent has no reply topic to listen on: its request is decided all the same.
    await publishEvent(
      port,
      prefix,
      Topic.gateRequests,
      'run-deny',
      create(GateRequestedSchema, {
        requestId: 'ghost-1',
        tenantId: 'acme',
        agentId: 'ghost-bot',
        runId: 'run-deny',
        actionKind: ActionKind.TOOL_CALL,
        tool: 'payroll',
        action: 'read',
        requestedAtMs: Date.now(),
        deadlineMs: Date.now() + 10_000,
      }),
    );
    const unknown = await eventually(
      () =>
        recorder
          .events(Topic.gateDecisions)
          .map((e) => e.data as GateDecided)
          .find((d) => d.requestId === 'ghost-1'),
      20_000,
      'the decision for an unregistered agent',
    );
    expect(unknown.verdict).toBe(Verdict.DENY);
    expect(unknown.reason).toContain('not registered');
    // A denied request's budget reservation is released.
    await eventually(
      () => recorder.events(Topic.budgetReservations).some((e) => e.type === 'warden.budget.v1.BudgetReleased'),
      20_000,
      'a release',
    );
  });

  it('after a kill switch is engaged over HTTP, requests in its scope deny and others do not', async () => {
    const engaged = await call(stack.urls.killswitch, 'POST', '/killswitches', sre, {
      scope: { tenantId: 'acme', agentId: 'payroll-bot' },
      reason: 'paying the wrong accounts',
    });
    expect(engaged.status).toBe(201);
    const switchId = engaged.body.switchId as string;
    const first = await gate('payroll-bot', 'acme', 'run-killed', 'payroll', 'read');
    expect(first.verdict).toBe('deny');
    expect(first.reason).toContain(switchId);
    const later = await Promise.all(
      Array.from({ length: 20 }, (_, i) => gate('payroll-bot', 'acme', `run-killed-${i}`, 'payroll', 'read')),
    );
    expect(later.map((r) => r.verdict)).toEqual(Array(20).fill('deny'));
    expect((await gate('globex-bot', 'globex', 'run-other', 'payroll', 'read')).verdict).toBe('allow');
    const released = await call(stack.urls.killswitch, 'POST', `/killswitches/${switchId}/release`, sre, {
      reason: 'fixed',
    });
    expect(released.status).toBe(200);
    await eventually(
      async () => (await gate('payroll-bot', 'acme', 'run-released', 'payroll', 'read')).verdict === 'allow',
      20_000,
      'release',
    );
  });

  it('dead-letters garbage and unknown types on every input topic, and keeps deciding', async () => {
    const inputs = [
      Topic.gateRequests,
      Topic.budgetReservations,
      Topic.gateDecisions,
      Topic.gateOutcomes,
      Topic.registryEvents,
      Topic.killswitchEvents,
      Topic.approvalEvents,
      Topic.budgetHolds,
    ];
    for (const topic of inputs) {
      await port.publish([
        {
          topic: topicName(prefix, topic),
          key: 'run-poison',
          value: Buffer.from('not a cloud event \u0000\u00ff'),
          headers: {},
        },
        {
          topic: topicName(prefix, topic),
          key: 'run-poison',
          value: Buffer.from('{}'),
          headers: {
            ce_specversion: '1.0',
            ce_id: `x-${topic}`,
            ce_source: 'e2e',
            ce_type: 'warden.evil.v1.Unknown',
            'content-type': 'application/json',
          },
        },
      ]);
    }
    const sources = await eventually(
      () => {
        const seen = new Set(
          recorder
            .on(Topic.deadLetter)
            .map((r) => r.headers.warden_dlq_source.replace(/:\d+:\d+$/, '').slice(prefix.length)),
        );
        return inputs.every((t) => seen.has(t)) && seen;
      },
      30_000,
      'dead letters from every input topic',
    );
    expect([...sources].sort()).toEqual([...inputs].sort());
    for (const r of recorder.on(Topic.deadLetter)) expect(r.headers.warden_dlq_reason).toBeTruthy();
    expect((await gate('payroll-bot', 'acme', 'run-poison', 'payroll', 'read')).verdict).toBe('allow');
  });

  it('denies the gate once an agent budget is used up across runs (the tenant ledger), and shows the usage', async () => {
    const defined = await call(stack.urls.budget, 'PUT', '/budgets/globex-daily', globexAdmin, {
      scope: 'agent',
      subject: 'globex-bot',
      limits: [{ dimension: 'tokens', window: 'calendar_day', limit: 15 }],
    });
    expect(defined.status).toBe(200);
    expect((await gate('globex-bot', 'globex', 'run-budget-1', 'payroll', 'read')).verdict).toBe('allow');
    const second = await gate('globex-bot', 'globex', 'run-budget-2', 'payroll', 'read');
    expect(second).toMatchObject({
      verdict: 'deny',
      reason: 'budget refused: agent daily tokens budget exceeded: 10 used or held + 10 requested > limit 15',
    });
    const usage = await eventually(async () => {
      const r = await call(stack.urls.budget, 'GET', '/budgets/globex-daily/usage', globexAdmin);
      return (r.body.meters as { held: number }[] | undefined)?.[0]?.held === 10 && r.body;
    });
    expect(usage).toMatchObject({ meters: [{ meter: 'agent:globex-bot', held: 10, limit: 15, percent: 66 }] });
  });

  it('a forged budget raise and a forged reservation produced straight to the budget topics are dead-lettered; the limit holds', async () => {
    // A principal with produce rights on budget.events and budget.reservations but without the
    // key-encryption key (docs/adr/0118): records unsigned, or signed with a budget key of its own KEK.
    const forgedKek = randomBytes(32).toString('base64');
    const raise = create(BudgetDefinedSchema, {
      budgetId: 'globex-daily',
      tenantId: 'globex',
      scope: BudgetScope.AGENT,
      subject: 'globex-bot',
      limits: [create(LimitSchema, { dimension: Dimension.TOKENS, window: Window.CALENDAR_DAY, limit: 1_000_000 })],
      definedBy: 'mallory',
      definedAtMs: Date.now(),
    });
    const record = (topic: TopicName, id: string, streamKey: string, data: Message, runId = '') => ({
      topic: topicName(prefix, topic),
      ...encode({
        id,
        type: data.$typeName,
        source: 'warden://budget',
        time: Date.now(),
        key: streamKey,
        tenantId: 'globex',
        agentId: runId ? 'globex-bot' : '',
        runId,
        data,
      }),
    });
    const reserved = create(BudgetReservedSchema, {
      reservationId: 'forged-reservation',
      request: create(GateRequestedSchema, {
        requestId: 'forged-reserved-request',
        tenantId: 'globex',
        agentId: 'globex-bot',
        runId: 'run-budget-forged',
        actionKind: ActionKind.TOOL_CALL,
        tool: 'payroll',
        action: 'read',
        estimatedTokens: 10,
        requestedAtMs: Date.now(),
        deadlineMs: Date.now() + 10_000,
      }),
      reservedTokens: 10,
      reservedAtMs: Date.now(),
    });
    await port.publish([
      record(Topic.budgetEvents, 'forged-raise-unsigned', 'globex', raise),
      ...signedAsOwners(prefix, [record(Topic.budgetEvents, 'forged-raise-other-kek', 'globex', raise)], forgedKek),
      record(Topic.budgetReservations, 'forged-reserved', 'run-budget-forged', reserved, 'run-budget-forged'),
    ]);
    const expected: [string, string, string][] = [
      ['forged-raise-unsigned', 'budget-definitions', 'forged:unsigned'],
      ['forged-raise-other-kek', 'budget-definitions', 'forged:wrong_signer'],
      ['forged-reserved', 'policy-gate', 'forged:unsigned'],
    ];
    const letters = await eventually(
      () => {
        const found = expected.map(([id, consumer, code]) =>
          recorder
            .on(Topic.deadLetter)
            .find(
              (r) =>
                r.headers.ce_id === id &&
                r.headers.warden_dlq_consumer === consumer &&
                r.headers.warden_dlq_code === code,
            ),
        );
        return found.every(Boolean) && found;
      },
      30_000,
      'the forged budget records dead-lettered',
    );
    expect(letters[0]!.headers.warden_dlq_reason).toBe(
      'budget.events records must be signed by budget; this one is not',
    );
    expect(letters[1]!.headers.warden_dlq_reason).toContain('is not its key');
    // The registry's inventory projection refused the raise too.
    await eventually(
      () =>
        recorder
          .on(Topic.deadLetter)
          .some(
            (r) =>
              r.headers.ce_id === 'forged-raise-unsigned' &&
              r.headers.warden_dlq_consumer === 'projection.agent-budgets' &&
              r.headers.warden_dlq_code === 'forged:unsigned',
          ),
      30_000,
      'the forged raise dead-lettered by the registry inventory',
    );
    // The limit holds: still 15 tokens, still refused; the forged reservation was never decided.
    const third = await gate('globex-bot', 'globex', 'run-budget-3', 'payroll', 'read');
    expect(third).toMatchObject({ verdict: 'deny', reason: expect.stringContaining('limit 15') });
    const budget = await call(stack.urls.budget, 'GET', '/budgets/globex-daily', globexAdmin);
    expect(budget.body).toMatchObject({ limits: [{ limit: 15 }] });
    // (Decisions are keyed by run id; the poison test left undecodable records on gate.decisions.)
    expect(recorder.on(Topic.gateDecisions).some((r) => r.key === 'run-budget-forged')).toBe(false);
  });

  it('shuts every service down gracefully with exit code 0', async () => {
    const codes = await stack.stop();
    expect(codes).toEqual(Object.fromEntries(SERVICES.map((s) => [s, 0])));
    stack = undefined as unknown as Stack;
  });
});
