import {
  ActionKind,
  BudgetDefinedSchema,
  BudgetReleased,
  BudgetReservationRefused,
  BudgetReserved,
  BudgetScope,
  BudgetSettled,
  create,
  Dimension,
  Envelope,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  LimitSchema,
  Message,
  MoneySchema,
  ScopeSchema,
  StepCompletedSchema,
  Topic,
  TopicName,
  Verdict,
} from '@warden/contracts';
import { createServiceRuntime, KafkaPort, ServiceRuntime } from '@warden/platform';
import {
  eventually,
  kafkaBrokers,
  provisionedPort,
  publishEvent,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { wireBudgetDefinitions } from './budget-definitions';
import { defaultRunLimits, readBudgetConfig } from './config';
import { wireReservations } from './reservations.processor';

type Answer = BudgetReserved | BudgetReservationRefused;

describe('budget reservations processor (real Kafka)', () => {
  const prefix = uniquePrefix('budget-reservations');
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let runtime: ServiceRuntime | undefined;

  /** The processor and its tables, as the budget service runs them (no HTTP, no Postgres). */
  const startProcessor = async (instance: string) => {
    const config = readBudgetConfig({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: instance,
      WARDEN_PARTITIONS: '3',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      BUDGET_DEFAULT_RUN_TOKENS: '1000',
      BUDGET_DEFAULT_RUN_TOOL_CALLS: '2',
    });
    const rt = createServiceRuntime('budget', config);
    const definitions = wireBudgetDefinitions(rt, instance);
    wireReservations(rt, instance, definitions.table, defaultRunLimits(config));
    await rt.start();
    runtime = rt;
  };
  const publish = (topic: TopicName, key: string, data: Message, ids = { tenantId: 'acme', agentId: 'bot' }) =>
    publishEvent(port, prefix, topic, key, data, { runId: key, ...ids });
  const request = (requestId: string, runId: string, over: Partial<Omit<GateRequested, '$typeName'>> = {}) =>
    create(GateRequestedSchema, {
      requestId,
      runId,
      tenantId: 'acme',
      agentId: 'bot',
      actionKind: ActionKind.MODEL_CALL,
      estimatedTokens: 100,
      deadlineMs: Date.now() + 60_000,
      ...over,
    });
  const gate = (r: GateRequested) =>
    publish(Topic.gateRequests, r.runId, r, { tenantId: r.tenantId, agentId: r.agentId });
  const answers = (requestId: string): Envelope<Answer>[] =>
    recorder
      .events(Topic.budgetReservations)
      .filter((e) => (e.data as Answer).request?.requestId === requestId) as Envelope<Answer>[];
  const answerFor = (requestId: string, nth = 1) =>
    eventually(() => answers(requestId)[nth - 1]?.data, 20_000, `answer ${nth} to ${requestId}`);
  const budgetEvent = <T extends BudgetSettled | BudgetReleased>(type: string, reservationId: string) =>
    eventually(
      () =>
        recorder
          .events(Topic.budgetReservations)
          .map((e) => e.data as T)
          .find((e) => e.$typeName === type && e.reservationId === reservationId),
      20_000,
      `${type} for ${reservationId}`,
    );

  beforeAll(async () => {
    port = await provisionedPort(prefix, 3);
    // Present before the processor starts: its tables must have read it before the first request.
    await publish(
      Topic.budgetEvents,
      'frugal',
      create(BudgetDefinedSchema, {
        budgetId: 'b-1',
        tenantId: 'frugal',
        scope: BudgetScope.RUN,
        limits: [create(LimitSchema, { dimension: Dimension.TOKENS, limit: 50 })],
      }),
      { tenantId: 'frugal', agentId: '' },
    );
    await startProcessor('b1');
    recorder = await TopicRecorder.start(port, prefix, [Topic.budgetReservations]);
  });
  afterAll(async () => {
    await runtime?.stop();
    await recorder.stop();
    await port.close();
  });

  it('reserves within the run limit and refuses the request that would exceed it', async () => {
    await gate(request('r1', 'run-a', { estimatedTokens: 600 }));
    const first = (await answerFor('r1')) as BudgetReserved;
    expect(first.$typeName).toBe('warden.budget.v1.BudgetReserved');
    expect(first).toMatchObject({ reservedTokens: 600, runTokensUsed: 600, runTokensLimit: 1000 });
    const [envelope] = answers('r1');
    expect(envelope).toMatchObject({ key: 'run-a', tenantId: 'acme', agentId: 'bot', runId: 'run-a' });

    await gate(request('r2', 'run-a', { estimatedTokens: 500 }));
    const refused = (await answerFor('r2')) as BudgetReservationRefused;
    expect(refused.$typeName).toBe('warden.budget.v1.BudgetReservationRefused');
    expect(refused.dimension).toBe(Dimension.TOKENS);
    expect(refused.reason).toBe('run token budget exceeded: 600 used or reserved + 500 requested > limit 1000');
  });

  it("applies the tenant's defined run limits instead of the defaults", async () => {
    await gate(request('f1', 'run-f', { tenantId: 'frugal', estimatedTokens: 60 }));
    expect(await answerFor('f1')).toMatchObject({ dimension: Dimension.TOKENS });
  });

  it('answers a duplicate request id with the identical event and counts it once', async () => {
    await gate(request('r1', 'run-a', { estimatedTokens: 600 }));
    const again = await answerFor('r1', 2);
    expect(again).toEqual(await answerFor('r1'));
    // 600 (r1, once) + 400 reaches the limit exactly: allowed only if r1 was not counted twice.
    await gate(request('r3', 'run-a', { estimatedTokens: 400 }));
    expect(await answerFor('r3')).toMatchObject({ $typeName: 'warden.budget.v1.BudgetReserved', runTokensUsed: 1000 });
  });

  it('settles a completed step to its actual use and releases a denied one', async () => {
    const r1 = (await answerFor('r1')) as BudgetReserved;
    await publish(
      Topic.gateOutcomes,
      'run-a',
      create(StepCompletedSchema, {
        requestId: 'r1',
        tenantId: 'acme',
        agentId: 'bot',
        runId: 'run-a',
        actualTokens: 700,
        actualCost: create(MoneySchema, { currency: 'USD', micros: 4200 }),
      }),
    );
    const settled = await budgetEvent<BudgetSettled>('warden.budget.v1.BudgetSettled', r1.reservationId);
    expect(settled).toMatchObject({
      requestId: 'r1',
      runId: 'run-a',
      actualTokens: 700,
      actualCost: { currency: 'USD', micros: 4200 },
    });

    const r3 = (await answerFor('r3')) as BudgetReserved;
    await publish(
      Topic.gateDecisions,
      'run-a',
      create(GateDecidedSchema, {
        requestId: 'r3',
        tenantId: 'acme',
        agentId: 'bot',
        runId: 'run-a',
        verdict: Verdict.DENY,
        reason: 'tool not granted',
      }),
    );
    const released = await budgetEvent<BudgetReleased>('warden.budget.v1.BudgetReleased', r3.reservationId);
    expect(released).toMatchObject({ requestId: 'r3', reason: 'decision deny: tool not granted' });
    // 700 settled (an overrun of r1's 600), r3 released: 300 left.
    await gate(request('r4', 'run-a', { estimatedTokens: 300 }));
    expect(await answerFor('r4')).toMatchObject({ runTokensUsed: 1000 });
  });

  it('refuses every reservation in the scope of an engaged kill switch, naming it', async () => {
    await publish(
      Topic.killswitchEvents,
      'ks-budget',
      create(KillSwitchEngagedSchema, {
        switchId: 'ks-budget',
        scope: create(ScopeSchema, { tenantId: 'acme', agentId: 'rogue' }),
        reason: 'runaway',
        engagedBy: 'sam',
        engagedAtMs: Date.now(),
      }),
      { tenantId: 'acme', agentId: 'rogue' },
    );
    const refused = await eventually(
      async () => {
        const id = `k-${Math.random()}`;
        await gate(request(id, 'run-k', { agentId: 'rogue', estimatedTokens: 1 }));
        const answer = await answerFor(id);
        return answer.$typeName === 'warden.budget.v1.BudgetReservationRefused' && answer;
      },
      20_000,
      'a refusal by the kill switch',
    );
    expect(refused).toMatchObject({ dimension: Dimension.SCOPE, reason: 'kill switch ks-budget engaged: no budget' });
    await gate(request('other-agent', 'run-o', { estimatedTokens: 1 }));
    expect((await answerFor('other-agent')).$typeName).toBe('warden.budget.v1.BudgetReserved');
  });

  it('after a restart, rebuilds the run state from its changelog: a duplicate gets the same answer', async () => {
    await runtime!.stop();
    runtime = undefined;
    await gate(request('r2', 'run-a', { estimatedTokens: 1 }));
    await gate(request('r5', 'run-a', { estimatedTokens: 1 }));
    await startProcessor('b2');
    expect(await answerFor('r2', 2)).toEqual(await answerFor('r2'));
    expect(await answerFor('r5')).toMatchObject({ dimension: Dimension.TOKENS });
  });
});
