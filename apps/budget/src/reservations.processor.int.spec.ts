import {
  ActionKind,
  BudgetDefinedSchema,
  BudgetReservationRefused,
  BudgetReserved,
  BudgetScope,
  create,
  Dimension,
  Envelope,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  Limit,
  LimitSchema,
  Message,
  MoneySchema,
  RiskClass,
  ScopeSchema,
  StepCompletedSchema,
  StepFailedSchema,
  ToolActionSchema,
  ToolContractPublishedSchema,
  ToolContractSchema,
  Topic,
  TopicName,
  Verdict,
  Window,
} from '@warden/contracts';
import { createServiceRuntime, DEV_KEY_ENCRYPTION_KEY, KafkaPort, ServiceRuntime } from '@warden/platform';
import {
  eventually,
  kafkaBrokers,
  provisionedPort,
  publishEvent,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { wireBudgetDefinitions } from './budget-definitions';
import { readBudgetConfig, runDefaults } from './config';
import { wireLedger } from './ledger.processor';
import { wireReferenceTables } from './reference-tables';
import { wireReservations } from './reservations.processor';

type Answer = BudgetReserved | BudgetReservationRefused;
const RESERVED = 'warden.budget.v1.BudgetReserved';
const REFUSED = 'warden.budget.v1.BudgetReservationRefused';

describe('budget processors: the run stage and the tenant ledger (real Kafka)', () => {
  const prefix = uniquePrefix('budget-reservations');
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let runtime: ServiceRuntime | undefined;

  /** Both processors and their tables, as the budget service runs them (no HTTP, no Postgres). */
  const startProcessors = async (instance: string) => {
    const config = readBudgetConfig({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: instance,
      WARDEN_PARTITIONS: '3',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
      WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
      BUDGET_DEFAULT_RUN_TOKENS: '1000',
      BUDGET_DEFAULT_RUN_TOOL_CALLS: '5',
      BUDGET_RESERVATION_TTL_MS: '600000',
    });
    const rt = createServiceRuntime('budget', config);
    const definitions = wireBudgetDefinitions(rt, instance);
    const tables = wireReferenceTables(rt, instance);
    const settings = {
      defaults: runDefaults(config),
      reservationTtlMs: 600_000,
      approvalHoldMs: 3_600_000,
      maxDeadlineMs: 300_000,
    };
    wireReservations(rt, definitions.table, tables, settings);
    wireLedger(rt, definitions.table, tables, settings.defaults);
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
      requestedAtMs: Date.now(),
      deadlineMs: Date.now() + 60_000,
      ...over,
    });
  const gate = (r: GateRequested) =>
    publish(Topic.gateRequests, r.runId, r, { tenantId: r.tenantId, agentId: r.agentId });
  const answers = (requestId: string): Envelope<Answer>[] =>
    recorder
      .events(Topic.budgetReservations)
      .filter(
        (e) => (e.type === RESERVED || e.type === REFUSED) && (e.data as Answer).request?.requestId === requestId,
      ) as Envelope<Answer>[];
  const answerFor = (requestId: string, nth = 1) =>
    eventually(() => answers(requestId)[nth - 1]?.data, 20_000, `answer ${nth} to ${requestId}`);
  const eventOn = (topic: TopicName, type: string, match: (data: Record<string, unknown>) => boolean) =>
    eventually(
      () =>
        recorder
          .events(topic)
          .map((e) => e.data as unknown as Record<string, unknown>)
          .find((e) => e.$typeName === type && match(e)),
      20_000,
      `${type} on ${topic}`,
    );
  const define = (
    budgetId: string,
    tenantId: string,
    scope: BudgetScope,
    subject: string,
    limits: Partial<Omit<Limit, '$typeName'>>[],
  ) =>
    publish(
      Topic.budgetEvents,
      tenantId,
      create(BudgetDefinedSchema, {
        budgetId,
        tenantId,
        scope,
        subject,
        name: budgetId,
        limits: limits.map((l) => create(LimitSchema, l)),
      }),
      { tenantId, agentId: '' },
    );

  beforeAll(async () => {
    port = await provisionedPort(prefix, 3);
    // Present before the processors start: their tables must have read them before the first request.
    await define('frugal-runs', 'frugal', BudgetScope.RUN, '', [
      { dimension: Dimension.TOKENS, limit: 50, window: Window.RUN },
    ]);
    await define('fleet', 'fleet', BudgetScope.AGENT, '', [
      { dimension: Dimension.TOKENS, limit: 1000, window: Window.CALENDAR_DAY, degradeAtPercent: 80 },
    ]);
    await define('fleet-risk', 'fleet', BudgetScope.TENANT, '', [
      { dimension: Dimension.RISK, limit: 40, window: Window.CALENDAR_DAY },
    ]);
    await publish(
      Topic.registryEvents,
      'tool:fleet/payments',
      create(ToolContractPublishedSchema, {
        tenantId: 'fleet',
        contract: create(ToolContractSchema, {
          tool: 'payments',
          version: '1',
          actions: [create(ToolActionSchema, { name: 'refund', riskClass: RiskClass.HIGH })],
        }),
      }),
      { tenantId: 'fleet', agentId: '' },
    );
    await startProcessors('b1');
    recorder = await TopicRecorder.start(port, prefix, [
      Topic.budgetReservations,
      Topic.budgetLedger,
      Topic.budgetHolds,
    ]);
  });
  afterAll(async () => {
    await runtime?.stop();
    await recorder.stop();
    await port.close();
  });

  it('reserves within the run limit and refuses the request that would exceed it, on the run stage alone', async () => {
    await gate(request('r1', 'run-a', { estimatedTokens: 600 }));
    const first = (await answerFor('r1')) as BudgetReserved;
    expect(first).toMatchObject({
      $typeName: RESERVED,
      reservedTokens: 600,
      runTokensUsed: 600,
      runTokensLimit: 1000,
      fromLedger: false,
    });
    const [envelope] = answers('r1');
    expect(envelope).toMatchObject({ key: 'run-a', tenantId: 'acme', agentId: 'bot', runId: 'run-a' });
    await gate(request('r2', 'run-a', { estimatedTokens: 500 }));
    expect(await answerFor('r2')).toMatchObject({
      $typeName: REFUSED,
      dimension: Dimension.TOKENS,
      budgetId: 'default',
      reason: 'run tokens budget exceeded: 600 used or held + 500 requested > limit 1000',
    });
    expect(recorder.on(Topic.budgetHolds)).toHaveLength(0);
  });

  it("applies the tenant's run budget instead of the defaults", async () => {
    await gate(request('f1', 'run-f', { tenantId: 'frugal', estimatedTokens: 60 }));
    expect(await answerFor('f1')).toMatchObject({ dimension: Dimension.TOKENS, budgetId: 'frugal-runs' });
  });

  it('answers a duplicate request id with the identical event and counts it once', async () => {
    await gate(request('r1', 'run-a', { estimatedTokens: 600 }));
    expect(await answerFor('r1', 2)).toEqual(await answerFor('r1'));
    await gate(request('r3', 'run-a', { estimatedTokens: 400 }));
    expect(await answerFor('r3')).toMatchObject({ $typeName: RESERVED, runTokensUsed: 1000 });
  });

  it('settles a completed step to its actual use and releases a denied one', async () => {
    const r1 = (await answerFor('r1')) as BudgetReserved;
    const outcome = { requestId: 'r1', tenantId: 'acme', agentId: 'bot', runId: 'run-a' };
    await publish(
      Topic.gateOutcomes,
      'run-a',
      create(StepCompletedSchema, {
        ...outcome,
        actualTokens: 700,
        actualCost: create(MoneySchema, { currency: 'USD', micros: 4200 }),
      }),
    );
    expect(
      await eventOn(
        Topic.budgetReservations,
        'warden.budget.v1.BudgetSettled',
        (e) => e.reservationId === r1.reservationId,
      ),
    ).toMatchObject({
      requestId: 'r1',
      runId: 'run-a',
      actualTokens: 700,
      actualCost: { currency: 'USD', micros: 4200 },
    });
    const r3 = (await answerFor('r3')) as BudgetReserved;
    await publish(
      Topic.gateDecisions,
      'run-a',
      create(GateDecidedSchema, { ...outcome, requestId: 'r3', verdict: Verdict.DENY, reason: 'tool not granted' }),
    );
    expect(
      await eventOn(
        Topic.budgetReservations,
        'warden.budget.v1.BudgetReleased',
        (e) => e.reservationId === r3.reservationId,
      ),
    ).toMatchObject({ requestId: 'r3', reason: 'decision deny: tool not granted' });
    // 700 settled (an overrun of r1's 600), r3 released: 300 left.
    await gate(request('r4', 'run-a', { estimatedTokens: 300 }));
    expect(await answerFor('r4')).toMatchObject({ runTokensUsed: 1000 });
  });

  it("hands cross-run budgets to the tenant ledger, which answers in the run's partition", async () => {
    const fleet = { tenantId: 'fleet' };
    await gate(request('x1', 'run-x', { ...fleet, estimatedTokens: 500 }));
    await gate(request('y1', 'run-y', { ...fleet, estimatedTokens: 350 }));
    const x1 = (await answerFor('x1')) as BudgetReserved;
    expect(x1).toMatchObject({ $typeName: RESERVED, fromLedger: true, reservedTokens: 500, runTokensUsed: 500 });
    const y1 = (await answerFor('y1')) as BudgetReserved;
    expect(y1).toMatchObject({
      fromLedger: true,
      degradeHints: ['use a cheaper model: tokens at 85% of agent daily budget'],
    });
    const [xEnvelope] = answers('x1');
    expect(xEnvelope).toMatchObject({ key: 'run-x', runId: 'run-x', tenantId: 'fleet' });
    // The ledger's answer lands in the run's partition, like the gate request: policy reads it there.
    const requestPartition = await eventually(
      () => recorder.records.find((r) => r.key === 'run-x' && r.topic.endsWith(Topic.budgetReservations))?.partition,
    );
    expect(
      recorder
        .on(Topic.budgetReservations)
        .filter((r) => r.key === 'run-x')
        .every((r) => r.partition === requestPartition),
    ).toBe(true);
    await eventOn(Topic.budgetLedger, 'warden.budget.v1.LedgerHeld', (e) => e.reservationId === x1.reservationId);
    // Another run of the same agent, on any partition: the agent's daily budget is shared exactly.
    await gate(request('z1', 'run-z', { ...fleet, estimatedTokens: 151 }));
    expect(await answerFor('z1')).toMatchObject({
      $typeName: REFUSED,
      fromLedger: true,
      budgetId: 'fleet',
      reason: 'agent daily tokens budget exceeded: 850 used or held + 151 requested > limit 1000',
    });
  });

  it('settles and releases on the ledger too, so the agent budget is free again', async () => {
    const ids = { tenantId: 'fleet', agentId: 'bot' };
    const x1 = (await answerFor('x1')) as BudgetReserved;
    await publish(
      Topic.gateOutcomes,
      'run-x',
      create(StepCompletedSchema, { ...ids, requestId: 'x1', runId: 'run-x', actualTokens: 100 }),
      ids,
    );
    await eventOn(Topic.budgetLedger, 'warden.budget.v1.LedgerSettled', (e) => e.reservationId === x1.reservationId);
    const y1 = (await answerFor('y1')) as BudgetReserved;
    await publish(
      Topic.gateOutcomes,
      'run-y',
      create(StepFailedSchema, { ...ids, requestId: 'y1', runId: 'run-y', error: 'timeout', actualTokens: 50 }),
      ids,
    );
    await eventOn(Topic.budgetLedger, 'warden.budget.v1.LedgerReleased', (e) => e.reservationId === y1.reservationId);
    // Used: 100 (x1) + 50 (y1 failed) = 150 of 1000.
    // A fresh run: run-z still holds z1's share until policy's deny releases it (no policy here).
    await gate(request('z2', 'run-w', { tenantId: 'fleet', estimatedTokens: 850 }));
    expect(await answerFor('z2')).toMatchObject({ $typeName: RESERVED, fromLedger: true });
  });

  it('counts risk points from the tool contract in the registry', async () => {
    const refund = (id: string) =>
      request(id, 'run-p', {
        tenantId: 'fleet',
        actionKind: ActionKind.TOOL_CALL,
        tool: 'payments',
        action: 'refund',
        estimatedTokens: 0,
      });
    for (const id of ['p1', 'p2', 'p3', 'p4']) await gate(refund(id));
    expect(await answerFor('p1')).toMatchObject({ reservedRiskPoints: 10, fromLedger: true });
    expect(await answerFor('p4')).toMatchObject({ $typeName: RESERVED });
    await gate(refund('p5'));
    expect(await answerFor('p5')).toMatchObject({
      $typeName: REFUSED,
      dimension: Dimension.RISK,
      budgetId: 'fleet-risk',
    });
  });

  it('keeps a hold awaiting approval, on the run stage and the ledger', async () => {
    const p4 = (await answerFor('p4')) as BudgetReserved;
    const ids = { tenantId: 'fleet', agentId: 'bot' };
    await publish(
      Topic.gateDecisions,
      'run-p',
      create(GateDecidedSchema, { ...ids, runId: 'run-p', requestId: 'p4', verdict: Verdict.PENDING_APPROVAL }),
      ids,
    );
    const run = await eventOn(
      Topic.budgetReservations,
      'warden.budget.v1.BudgetHoldExtended',
      (e) => e.reservationId === p4.reservationId,
    );
    const led = await eventOn(
      Topic.budgetLedger,
      'warden.budget.v1.BudgetHoldExtended',
      (e) => e.reservationId === p4.reservationId,
    );
    expect(led.expiresAtMs).toBe(run.expiresAtMs);
    expect(run.expiresAtMs as number).toBeGreaterThan(p4.expiresAtMs);
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
        return answer.$typeName === REFUSED && answer;
      },
      20_000,
      'a refusal by the kill switch',
    );
    expect(refused).toMatchObject({ dimension: Dimension.SCOPE, reason: 'kill switch ks-budget engaged: no budget' });
    await gate(request('other-agent', 'run-o', { estimatedTokens: 1 }));
    expect((await answerFor('other-agent')).$typeName).toBe(RESERVED);
  });

  it('after a restart, rebuilds both stages from their changelogs: duplicates get the same answers', async () => {
    await runtime!.stop();
    runtime = undefined;
    await gate(request('r2', 'run-a', { estimatedTokens: 1 }));
    await gate(request('r5', 'run-a', { estimatedTokens: 1 }));
    await gate(request('x1', 'run-x', { tenantId: 'fleet', estimatedTokens: 500 }));
    await gate(request('z3', 'run-v', { tenantId: 'fleet', estimatedTokens: 1 }));
    await startProcessors('b2');
    expect(await answerFor('r2', 2)).toEqual(await answerFor('r2'));
    expect(await answerFor('r5')).toMatchObject({ dimension: Dimension.TOKENS });
    // x1 was settled: a duplicate now is refused as one, without holding anything again.
    expect(await answerFor('x1', 2)).toMatchObject({
      $typeName: REFUSED,
      reason: 'duplicate of request x1, whose reservation is settled',
    });
    // The ledger rebuilt its meters: 100 (x1) + 50 (y1) + 850 (z2) = 1000 of the agent's 1000.
    expect(await answerFor('z3')).toMatchObject({ $typeName: REFUSED, fromLedger: true, budgetId: 'fleet' });
  });
});
