import {
  ActionKind,
  create,
  GateRequestedSchema,
  Message,
  MoneySchema,
  StepCompletedSchema,
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
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (await res.json()) as Record<string, unknown>,
    };
  };
  const publish = (topic: TopicName, runId: string, data: Message) =>
    publishEvent(port, prefix, topic, runId, data, { tenantId: 'acme', agentId: 'bot', runId });
  const request = (requestId: string, estimatedTokens: number) =>
    publish(
      Topic.gateRequests,
      'run-u',
      create(GateRequestedSchema, {
        requestId,
        runId: 'run-u',
        tenantId: 'acme',
        agentId: 'bot',
        actionKind: ActionKind.MODEL_CALL,
        estimatedTokens,
      }),
    );

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

  it('shows the configured defaults until the tenant defines its run limits', async () => {
    expect((await call('GET', '/budgets/run-defaults')).body).toEqual({
      tenantId: 'acme',
      limits: [
        { dimension: 'tokens', limit: 100_000, source: 'default' },
        { dimension: 'tool_calls', limit: 1000, source: 'default' },
      ],
      definedBy: null,
      definedAt: null,
    });
  });

  it('defines run limits for the caller tenant, recorded on budget.events', async () => {
    const put = await call('PUT', '/budgets/run-defaults', { limits: [{ dimension: 'tokens', limit: 1000 }] });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      tenantId: 'acme',
      limits: [
        { dimension: 'tokens', limit: 1000, source: 'tenant' },
        { dimension: 'tool_calls', limit: 1000, source: 'default' },
      ],
      definedBy: 'olga',
    });
    // The call returns once the service has read its event back; the test's own reader may lag a little.
    await eventually(() => recorder.on(Topic.budgetEvents).length > 0, 20_000, 'the definition on budget.events');
    expect(recorder.events(Topic.budgetEvents).map((e) => [e.type, e.key])).toEqual([
      ['warden.budget.v1.BudgetDefined', 'acme'],
    ]);
    expect((await call('GET', '/budgets/run-defaults', undefined, 'auditor')).body).toEqual(put.body);
    expect((await call('GET', '/budgets/run-defaults', undefined, 'owner', 'other')).body).toMatchObject({
      limits: [{ source: 'default' }, { source: 'default' }],
    });
  });

  it('rejects bad definitions with problem+json naming the field, and records nothing', async () => {
    const before = recorder.on(Topic.budgetEvents).length;
    const negative = await call('PUT', '/budgets/run-defaults', { limits: [{ dimension: 'tokens', limit: -5 }] });
    expect(negative).toMatchObject({ status: 400, body: { code: 'negative_limit', field: 'limits[0].limit' } });
    expect(negative.type).toContain('application/problem+json');
    const unknown = await call('PUT', '/budgets/run-defaults', { limits: [{ dimension: 'spend', limit: 5 }] });
    expect(unknown.body).toMatchObject({ code: 'unknown_dimension', field: 'limits[0].dimension' });
    const twice = await call('PUT', '/budgets/run-defaults', {
      limits: [
        { dimension: 'tokens', limit: 5 },
        { dimension: 'tokens', limit: 6 },
      ],
    });
    expect(twice.body).toMatchObject({ code: 'duplicate_dimension', field: 'limits[1].dimension' });
    expect((await call('PUT', '/budgets/run-defaults', { limits: 3 })).body).toMatchObject({ field: 'limits' });
    expect((await call('PUT', '/budgets/run-defaults', { limits: [] }, 'sre')).status).toBe(403);
    expect((await call('GET', '/budgets/run-defaults', undefined, 'owner', '')).body).toMatchObject({
      field: 'x-warden-tenant',
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(recorder.on(Topic.budgetEvents).length).toBe(before);
  });

  it("fills run usage from the reservations processor's answers, tenant-scoped", async () => {
    await request('u1', 600);
    await request('u2', 500);
    await request('u1', 600);
    // All three answers (the duplicate re-answered) are on Kafka and projected.
    await eventually(() => recorder.on(Topic.budgetReservations).length === 3);
    await eventually(async () => (await budget.runtime.projection('run-usage').lag()) === 0);
    const usage = (await call('GET', '/runs/run-u/usage', undefined, 'auditor')).body;
    expect(usage).toMatchObject({
      id: 'run-u',
      tenant_id: 'acme',
      agent_id: 'bot',
      reserved_tokens: 600,
      reservations: 1,
      refusals: 1,
    });
    expect(usage).not.toHaveProperty('ledger');

    await publish(
      Topic.gateOutcomes,
      'run-u',
      create(StepCompletedSchema, {
        requestId: 'u1',
        tenantId: 'acme',
        agentId: 'bot',
        runId: 'run-u',
        actualTokens: 640,
        actualCost: create(MoneySchema, { currency: 'EUR', micros: 900 }),
      }),
    );
    const settled = await eventually(async () => {
      const r = await call('GET', '/runs/run-u/usage');
      return r.body.settled_tokens === 640 && r.body;
    });
    expect(settled).toMatchObject({
      reserved_tokens: 0,
      reservations: 1,
      refusals: 1,
      cost_micros: 900,
      currency: 'EUR',
    });
    expect((await call('GET', '/runs/run-u/usage', undefined, 'owner', 'other')).status).toBe(404);
  });

  it('rebuilds run usage from Kafka to the same rows', async () => {
    const rows = () => budget.runtime.db.query(`SELECT * FROM budget.run_usage ORDER BY id`);
    const before = await rows();
    await budget.runtime.projection('run-usage').rebuild();
    await eventually(async () => (await budget.runtime.projection('run-usage').lag()) === 0);
    expect(await rows()).toEqual(before);
  });
});
