import {
  create,
  DecisionContextSchema,
  GateDecidedSchema,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  Message,
  RiskClass,
  ScopeSchema,
  Topic,
  TopicName,
  Verdict,
} from '@warden/contracts';
import { callerHeaders, KafkaPort } from '@warden/platform';
import {
  eventually,
  freshDatabase,
  InProcessService,
  provisionedPort,
  publishEvent,
  startInProcess,
  uniquePrefix,
} from '@warden/platform/testing';
import { readApprovalConfig } from './config';
import { approvalService } from './service';

type Row = Record<string, unknown>;

describe('approval service (projection and HTTP, real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('approval');
  let db: { url: string; drop(): Promise<void> };
  let port: KafkaPort;
  let approval: InProcessService;

  const publish = (topic: TopicName, key: string, tenantId: string, data: Message) =>
    publishEvent(port, prefix, topic, key, data, {
      tenantId,
      agentId: 'bot',
      runId: topic === Topic.gateDecisions ? key : '',
    });
  const pending = (requestId: string, runId: string, tenantId: string, riskClass: RiskClass) =>
    publish(
      Topic.gateDecisions,
      runId,
      tenantId,
      create(GateDecidedSchema, {
        decisionId: `d-${requestId}`,
        requestId,
        tenantId,
        agentId: 'bot',
        runId,
        verdict: Verdict.PENDING_APPROVAL,
        reason: 'a human must approve',
        decidedAtMs: Date.now(),
        request: create(GateRequestedSchema, {
          requestId,
          runId,
          tenantId,
          agentId: 'bot',
          tool: 'payments',
          action: 'transfer',
          argumentsDigest: `sha256:${requestId}`,
          agentToken: 'secret',
        }),
        context: create(DecisionContextSchema, { riskClass, riskScore: 50 }),
      }),
    );
  const get = async (path: string, roles = 'approver', tenant = 'acme') => {
    const res = await fetch(`${approval.url}${path}`, {
      headers: await callerHeaders({ subject: 'ann', roles, tenant }),
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as unknown };
  };
  const list = async (query = '', tenant = 'acme') => (await get(`/tasks${query}`, 'approver', tenant)).body as Row[];

  beforeAll(async () => {
    db = await freshDatabase('approval');
    port = await provisionedPort(prefix, 3);
    approval = await startInProcess(readApprovalConfig, approvalService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: 'approval-http',
      WARDEN_PARTITIONS: '3',
      APPROVAL_HTTP_PORT: '0',
    });
  });
  afterAll(async () => {
    await approval?.close();
    await port?.close();
    await db?.drop();
  });

  it('projects opened tasks into approval.tasks and serves the queue of the caller tenant', async () => {
    await pending('r1', 'run-1', 'acme', RiskClass.HIGH);
    await pending('r2', 'run-2', 'acme', RiskClass.CRITICAL);
    await pending('r3', 'run-3', 'globex', RiskClass.HIGH);
    const rows = await eventually(async () => {
      const r = await list();
      return r.length === 2 && r;
    });
    const r1 = rows.find((r) => r.requestId === 'r1')!;
    expect(r1).toMatchObject({
      tenantId: 'acme',
      agentId: 'bot',
      runId: 'run-1',
      decisionId: 'd-r1',
      status: 'open',
      tool: 'payments',
      action: 'transfer',
      argumentsDigest: 'sha256:r1',
      riskClass: 'high',
      riskScore: 50,
      reasons: ['a human must approve'],
      resolvedAt: null,
    });
    expect(r1.request).toMatchObject({ requestId: 'r1', tenantId: 'acme', tool: 'payments' });
    expect(r1.request).not.toHaveProperty('agentToken');
    expect(Date.parse(r1.expiresAt as string) - Date.parse(r1.openedAt as string)).toBe(15 * 60_000);

    expect((await list('?status=open&riskClass=critical')).map((r) => r.requestId)).toEqual(['r2']);
    expect((await get(`/tasks/${r1.id}`, 'auditor')).body).toMatchObject({ id: r1.id, requestId: 'r1' });
    const globex = await eventually(async () => {
      const r = await list('', 'globex');
      return r.length === 1 && r;
    });
    expect(globex[0].requestId).toBe('r3');
    expect((await get(`/tasks/${globex[0].id}`)).status).toBe(404);
  });

  it('refuses readers without a reader role, without a tenant, or with a bad filter (problem+json)', async () => {
    const forbidden = await get('/tasks', 'sre');
    expect(forbidden.status).toBe(403);
    expect(forbidden.type).toContain('application/problem+json');
    expect((await get('/tasks', 'approver', '')).body).toMatchObject({ code: 'missing_tenant' });
    const bad = await get('/tasks?status=pending');
    expect(bad).toMatchObject({ status: 400, body: { code: 'invalid_query', field: 'status' } });
    expect((await get('/tasks?riskClass=extreme')).body).toMatchObject({ field: 'riskClass' });
  });

  it('shows a task denied by a kill switch, and rebuilds the same rows from Kafka', async () => {
    await publish(
      Topic.killswitchEvents,
      'ks-1',
      'acme',
      create(KillSwitchEngagedSchema, {
        switchId: 'ks-1',
        scope: create(ScopeSchema, { tenantId: 'acme', runId: 'run-1' }),
        reason: 'stop run-1',
        engagedBy: 'sam',
        engagedAtMs: Date.now(),
      }),
    );
    // The table catches up asynchronously; each new decision for the run re-checks the switches.
    let n = 0;
    const denied = await eventually(async () => {
      await pending(`r1-retry-${n++}`, 'run-1', 'acme', RiskClass.LOW);
      const r1 = (await list()).find((r) => r.requestId === 'r1')!;
      return r1.status === 'denied' && r1;
    });
    expect(denied).toMatchObject({ resolvedBy: 'killswitch:ks-1', comment: expect.stringContaining('stop run-1') });
    // Every task of run-1 is denied with it, including retries opened before the switch was seen.
    await eventually(async () => {
      const open = await list('?status=open');
      return open.length === 1 && open[0].requestId === 'r2';
    });

    const snapshot = async () =>
      approval.runtime.db.query(`SELECT * FROM approval.tasks ORDER BY id`) as Promise<Row[]>;
    // The processor may still be denying tasks of the last retries: snapshot once the rows stop changing.
    let previous = '';
    const before = await eventually(async () => {
      if ((await approval.runtime.projection('tasks').lag()) !== 0) return undefined;
      const rows = await snapshot();
      const stable = JSON.stringify(rows) === previous;
      previous = JSON.stringify(rows);
      if (!stable) await new Promise((r) => setTimeout(r, 500));
      return stable && rows;
    });
    await approval.runtime.projection('tasks').rebuild();
    const after = await eventually(async () => {
      const rows = await snapshot();
      return rows.length === before.length && (await approval.runtime.projection('tasks').lag()) === 0 && rows;
    });
    expect(after).toEqual(before);
  });
});
