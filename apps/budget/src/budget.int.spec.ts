import {
  ActionKind,
  create,
  GateRequested,
  GateRequestedSchema,
  Message,
  MoneySchema,
  StepCompletedSchema,
  StepFailedSchema,
  Topic,
  TopicName,
} from '@warden/contracts';
import { callerHeaders, KafkaPort } from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  InProcessService,
  publishEvent,
  startInProcess,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readBudgetConfig } from './config';
import { budgetService } from './service';

describe('budget service (HTTP, real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('budget');
  let db: { url: string; drop(): Promise<void> };
  let budget: InProcessService;
  let port: KafkaPort;
  let recorder: TopicRecorder;

  const call = async (method: string, path: string, body?: unknown, roles = 'owner', tenant = 'acme') => {
    const res = await fetch(`${budget.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(await callerHeaders({ subject: 'olga', roles, tenant })) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
    };
  };
  const publish = (topic: TopicName, runId: string, data: Message, agentId = 'bot') =>
    publishEvent(port, prefix, topic, runId, data, { tenantId: 'acme', agentId, runId });
  const request = (requestId: string, runId: string, over: Partial<Omit<GateRequested, '$typeName'>> = {}) =>
    publish(
      Topic.gateRequests,
      runId,
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
      }),
      over.agentId ?? 'bot',
    );
  const answered = (requestId: string) =>
    eventually(
      () =>
        recorder
          .events(Topic.budgetReservations)
          .find(
            (e) =>
              (e.type === 'warden.budget.v1.BudgetReserved' ||
                e.type === 'warden.budget.v1.BudgetReservationRefused') &&
              (e.data as { request?: GateRequested }).request?.requestId === requestId,
          ),
      20_000,
      `the answer to ${requestId}`,
    );
  const caughtUp = () =>
    eventually(async () => {
      for (const name of ['run-usage', 'tenant-usage', 'step-costs']) {
        if ((await budget.runtime.projection(name).lag()) !== 0) return false;
      }
      return true;
    });

  beforeAll(async () => {
    db = await freshDatabase('budget');
    budget = await startInProcess(readBudgetConfig, budgetService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: 'budget-a',
      WARDEN_PARTITIONS: '3',
    });
    port = await connectedPort('budget-test');
    recorder = await TopicRecorder.start(port, prefix, [Topic.budgetEvents, Topic.budgetReservations]);
  });
  afterAll(async () => {
    await budget.close();
    await recorder.stop();
    await port.close();
    await db.drop();
  });

  const agentDaily = {
    name: 'agent daily',
    scope: 'agent',
    subject: 'bot',
    limits: [
      { dimension: 'tokens', window: 'calendar_day', limit: 1000, degradeAtPercent: 80, askAtPercent: 95 },
      { dimension: 'spend', window: 'calendar_month', limit: 5_000_000, currency: 'USD' },
    ],
  };

  it('defines a budget for the caller tenant, recorded on budget.events, and reads it back', async () => {
    const put = await call('PUT', '/budgets/bot-daily', agentDaily);
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      budgetId: 'bot-daily',
      name: 'agent daily',
      scope: 'agent',
      subject: 'bot',
      limits: [
        { dimension: 'tokens', window: 'calendar_day', limit: 1000, degradeAtPercent: 80, askAtPercent: 95 },
        { dimension: 'spend', window: 'calendar_month', limit: 5_000_000, currency: 'USD' },
      ],
      definedBy: 'olga',
    });
    await eventually(() => recorder.on(Topic.budgetEvents).length > 0, 20_000, 'the definition on budget.events');
    expect(recorder.events(Topic.budgetEvents).map((e) => [e.type, e.key])).toEqual([
      ['warden.budget.v1.BudgetDefined', 'acme'],
    ]);
    expect((await call('GET', '/budgets/bot-daily', undefined, 'auditor')).body).toEqual(put.body);
    expect((await call('GET', '/budgets', undefined, 'auditor')).body).toEqual({
      tenantId: 'acme',
      budgets: [put.body],
    });
    expect((await call('GET', '/budgets/bot-daily', undefined, 'owner', 'other')).status).toBe(404);
    expect((await call('GET', '/budgets', undefined, 'owner', 'other')).body).toEqual({
      tenantId: 'other',
      budgets: [],
    });
  });

  it('rejects bad definitions with problem+json naming the field, and records nothing', async () => {
    const before = recorder.on(Topic.budgetEvents).length;
    const limit = (over: Record<string, unknown>) => ({
      scope: 'tenant',
      limits: [{ dimension: 'tokens', window: 'calendar_day', limit: 10, ...over }],
    });
    const negative = await call('PUT', '/budgets/b-bad', limit({ limit: -5 }));
    expect(negative).toMatchObject({ status: 400, body: { code: 'negative_limit', field: 'limits[0].limit' } });
    expect(negative.type).toContain('application/problem+json');
    expect((await call('PUT', '/budgets/b-bad', limit({ dimension: 'spend', currency: 'XYZ' }))).body).toMatchObject({
      code: 'unknown_currency',
      field: 'limits[0].currency',
    });
    expect(
      (
        await call('PUT', '/budgets/b-bad', {
          scope: 'agent',
          subject: 'bot',
          limits: [{ dimension: 'tokens', window: 'rolling_day', limit: 5 }],
        })
      ).body,
    ).toMatchObject({ status: 400, code: 'overlapping_window', field: 'limits[0].window' });
    expect((await call('PUT', '/budgets/b-bad', limit({ dimension: 'steps' }))).body).toMatchObject({
      code: 'unknown_dimension',
      field: 'limits[0].dimension',
    });
    expect((await call('PUT', '/budgets/b-bad', { scope: 'tenant', limits: 3 })).body).toMatchObject({
      field: 'limits',
    });
    expect((await call('PUT', '/budgets/b-bad', limit({}), 'sre')).status).toBe(403);
    expect((await call('GET', '/budgets', undefined, 'owner', '')).body).toMatchObject({ field: 'tenant' });
    await new Promise((r) => setTimeout(r, 300));
    expect(recorder.on(Topic.budgetEvents).length).toBe(before);
  });

  it('publishes versions of the model price table', async () => {
    const table = { currency: 'USD', prices: [{ model: 'big', inputMicrosPer1k: 1000, outputMicrosPer1k: 3000 }] };
    const v1 = await call('PUT', '/price-table', table);
    expect(v1).toMatchObject({ status: 200, body: { version: 1, currency: 'USD', prices: table.prices } });
    const v2 = await call('PUT', '/price-table', {
      ...table,
      prices: [{ ...table.prices[0], outputMicrosPer1k: 2000 }],
    });
    expect(v2.body).toMatchObject({ version: 2 });
    expect((await call('GET', '/price-table', undefined, 'auditor')).body).toEqual(v2.body);
    expect((await call('GET', '/price-table/versions/1', undefined, 'auditor')).body).toEqual(v1.body);
    expect((await call('PUT', '/price-table', { ...table, currency: 'DOLLARS' })).body).toMatchObject({
      status: 400,
      code: 'unknown_currency',
      field: 'currency',
    });
    expect((await call('GET', '/price-table', undefined, 'owner', 'other')).status).toBe(404);
  });

  it('shows the usage of agent and run meters, with their thresholds', async () => {
    await request('u1', 'run-u', { estimatedTokens: 600, model: 'big' });
    await request('u2', 'run-u', { estimatedTokens: 250, model: 'big' });
    await answered('u2');
    await caughtUp();
    const usage = (await call('GET', '/budgets/bot-daily/usage', undefined, 'auditor')).body;
    expect(usage).toMatchObject({
      budgetId: 'bot-daily',
      meters: expect.arrayContaining([
        expect.objectContaining({
          dimension: 'tokens',
          meter: 'agent:bot',
          held: 850,
          used: 0,
          limit: 1000,
          percent: 85,
          threshold: 'degrade',
        }),
        // 850 tokens at the dearer price of table version 2 (2,000 micros per 1k).
        expect.objectContaining({
          dimension: 'spend',
          meter: 'agent:bot',
          held: 1700,
          limit: 5_000_000,
          threshold: 'continue',
        }),
      ]),
    });
    expect((await call('GET', '/usage', undefined, 'auditor')).body).toMatchObject({
      tenantId: 'acme',
      meters: usage.meters,
    });
    const run = (await call('GET', '/runs/run-u/usage', undefined, 'auditor')).body;
    expect(run).toMatchObject({ id: 'run-u', reservedTokens: 850, reservations: 2, refusals: 0 });
    expect(run.meters).toEqual([
      expect.objectContaining({ budgetId: 'default', dimension: 'tokens', meter: 'run', held: 850, limit: 100_000 }),
      expect.objectContaining({ budgetId: 'default', dimension: 'tool_calls', meter: 'run', held: 0, limit: 1000 }),
    ]);
    expect(run).not.toHaveProperty('ledger');
    expect((await call('GET', '/budgets/default/usage?runId=run-u', undefined, 'auditor')).body).toMatchObject({
      meters: [
        { dimension: 'tokens', held: 850 },
        { dimension: 'tool_calls', held: 0 },
      ],
    });
    expect((await call('GET', '/budgets/default/usage', undefined, 'auditor')).body).toMatchObject({ field: 'runId' });
    expect((await call('GET', '/runs/run-u/usage', undefined, 'owner', 'other')).status).toBe(404);
  });

  it('rolls spend up per run, agent and business outcome', async () => {
    await request('c1', 'run-c', { estimatedTokens: 10, businessOutcome: 'ticket-resolved' });
    await request('c2', 'run-d', { estimatedTokens: 10, businessOutcome: 'ticket-resolved', agentId: 'helper' });
    await request('c3', 'run-d', { estimatedTokens: 10, businessOutcome: 'refund-issued', agentId: 'helper' });
    await answered('c3');
    const cost = (micros: number) => create(MoneySchema, { currency: 'USD', micros });
    const done = (requestId: string, runId: string, micros: number, agentId = 'helper') =>
      publish(
        Topic.gateOutcomes,
        runId,
        create(StepCompletedSchema, {
          requestId,
          runId,
          tenantId: 'acme',
          agentId,
          actualTokens: 8,
          actualCost: cost(micros),
        }),
        agentId,
      );
    await done('c1', 'run-c', 500, 'bot');
    await done('c2', 'run-d', 700);
    await publish(
      Topic.gateOutcomes,
      'run-d',
      create(StepFailedSchema, {
        requestId: 'c3',
        runId: 'run-d',
        tenantId: 'acme',
        agentId: 'helper',
        error: 'x',
        actualTokens: 4,
        actualCost: cost(90),
      }),
      'helper',
    );
    await eventually(async () => {
      const r = await call('GET', '/costs?by=outcome', undefined, 'auditor');
      return (r.body.costs as unknown[]).length === 2;
    });
    expect((await call('GET', '/costs?by=outcome', undefined, 'auditor')).body).toEqual({
      tenantId: 'acme',
      by: 'outcome',
      costs: [
        { key: 'ticket-resolved', currency: 'USD', costMicros: 1200, tokens: 16, steps: 2, failedSteps: 0 },
        { key: 'refund-issued', currency: 'USD', costMicros: 90, tokens: 4, steps: 1, failedSteps: 1 },
      ],
    });
    expect((await call('GET', '/costs?by=agent', undefined, 'auditor')).body.costs).toEqual([
      { key: 'helper', currency: 'USD', costMicros: 790, tokens: 12, steps: 2, failedSteps: 1 },
      { key: 'bot', currency: 'USD', costMicros: 500, tokens: 8, steps: 1, failedSteps: 0 },
    ]);
    expect((await call('GET', '/costs?by=run&key=run-c', undefined, 'auditor')).body.costs).toEqual([
      { key: 'run-c', currency: 'USD', costMicros: 500, tokens: 8, steps: 1, failedSteps: 0 },
    ]);
    expect((await call('GET', '/costs?by=team', undefined, 'auditor')).body).toMatchObject({
      status: 400,
      field: 'by',
    });
    expect((await call('GET', '/costs?by=run&from=yesterday', undefined, 'auditor')).body).toMatchObject({
      field: 'from',
    });
    expect((await call('GET', '/costs?by=agent', undefined, 'auditor', 'other')).body.costs).toEqual([]);
  });

  it('removes a budget', async () => {
    expect((await call('DELETE', '/budgets/bot-daily', undefined, 'admin')).status).toBe(204);
    expect((await call('GET', '/budgets/bot-daily')).status).toBe(404);
    expect((await call('DELETE', '/budgets/bot-daily', undefined, 'admin')).status).toBe(404);
  });

  it('rebuilds the usage and cost tables from Kafka to the same rows', async () => {
    await caughtUp();
    for (const [name, table] of [
      ['run-usage', 'budget.run_usage'],
      ['tenant-usage', 'budget.tenant_usage'],
      ['step-costs', 'budget.step_costs'],
    ]) {
      const rows = () => budget.runtime.db.query(`SELECT * FROM ${table} ORDER BY id`);
      const before = await rows();
      expect(before.length).toBeGreaterThan(0);
      await budget.runtime.projection(name).rebuild();
      await eventually(async () => (await budget.runtime.projection(name).lag()) === 0);
      expect(await rows()).toEqual(before);
    }
  });
});
