import {
  ApprovalEscalated,
  ApprovalExpired,
  create,
  DecisionContextSchema,
  GateDecidedSchema,
  GateRequestedSchema,
  RiskClass,
  Topic,
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
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readApprovalConfig } from './config';
import { approvalService } from './service';

type Row = Record<string, unknown>;

describe('approval durability: tasks survive a restart, are rebuilt from Kafka, and expiry still decides', () => {
  const prefix = uniquePrefix('approval-durable');
  let db: { url: string; drop(): Promise<void> };
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let approval: InProcessService | undefined;

  // Long enough to restart in between, short enough to expire within the test.
  const TTL_MS = 15_000;
  const start = async (instance: string) =>
    startInProcess(readApprovalConfig, approvalService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: instance,
      WARDEN_PARTITIONS: '3',
      APPROVAL_HTTP_PORT: '0',
      APPROVAL_TASK_TTL_MS: String(TTL_MS),
      APPROVAL_ESCALATE_AFTER_MS: '1000',
      APPROVAL_REVIEW_INTERVAL_MS: '100',
    });
  const pending = (requestId: string, runId: string) =>
    publishEvent(
      port,
      prefix,
      Topic.gateDecisions,
      runId,
      create(GateDecidedSchema, {
        decisionId: `d-${requestId}`,
        requestId,
        tenantId: 'acme',
        agentId: 'bot',
        runId,
        verdict: Verdict.PENDING_APPROVAL,
        decidedAtMs: Date.now(),
        request: create(GateRequestedSchema, {
          requestId,
          runId,
          tenantId: 'acme',
          agentId: 'bot',
          tool: 'payments',
          action: 'transfer',
          argumentsDigest: `sha256:${requestId}`,
        }),
        context: create(DecisionContextSchema, { riskClass: RiskClass.HIGH, riskScore: 70 }),
      }),
      { tenantId: 'acme', agentId: 'bot', runId },
    );
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${approval!.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(await callerHeaders({ subject: 'ann', roles: 'approver', tenant: 'acme' })),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Row };
  };
  const ofType = <T>(type: string) =>
    recorder
      .events(Topic.approvalEvents)
      .filter((e) => e.type === `warden.approval.v1.${type}`)
      .map((e) => e.data as T);

  beforeAll(async () => {
    db = await freshDatabase('approval_durable');
    port = await provisionedPort(prefix, 3);
    recorder = await TopicRecorder.start(port, prefix, [Topic.approvalEvents]);
  });
  afterAll(async () => {
    await approval?.close();
    await recorder?.stop();
    await port?.close();
    await db?.drop();
  });

  it('keeps waiting tasks across a restart, takes votes on them, escalates and expires the rest exactly once', async () => {
    approval = await start('approval-1');
    await pending('keep', 'run-a');
    await pending('vote', 'run-b');
    const ids = await eventually(async () => {
      const rows = (await call('GET', '/tasks?status=open')).body as unknown as Row[];
      return rows.length === 2 && new Map(rows.map((r) => [r.requestId as string, r.id as string]));
    });
    await approval.close();
    approval = undefined;

    // Nothing runs while the service is down; the new instance rebuilds every task from approval.events.
    approval = await start('approval-2');
    expect(await call('POST', `/tasks/${ids.get('vote')}/approve`, { argumentsDigest: 'sha256:vote' })).toMatchObject({
      status: 200,
      body: { status: 'granted' },
    });
    // The voted task may have escalated before its vote (after 1 s); the waiting one must escalate.
    await eventually(() => ofType<ApprovalEscalated>('ApprovalEscalated').some((e) => e.taskId === ids.get('keep')));
    const expired = await eventually(() => {
      const e = ofType<ApprovalExpired>('ApprovalExpired');
      return e.length > 0 && e;
    }, 30_000);
    expect(expired.map((e) => e.taskId)).toEqual([ids.get('keep')]);
    const row = await eventually(async () => {
      const r = (await call('GET', `/tasks/${ids.get('keep')}`)).body;
      return r.status === 'expired' && r;
    });
    expect(row.escalatedAt).not.toBeNull();
    // The granted task never expires, and the expired one expires once however many ticks follow.
    await pending('marker', 'run-a');
    await eventually(() => ofType<Row>('ApprovalTaskOpened').some((o) => o.requestId === 'marker'));
    expect(ofType<ApprovalExpired>('ApprovalExpired')).toHaveLength(1);
    const escalations = ofType<ApprovalEscalated>('ApprovalEscalated').map((e) => e.taskId);
    expect(escalations.filter((id) => id === ids.get('keep'))).toHaveLength(1);
    expect(escalations.filter((id) => id === ids.get('vote')).length).toBeLessThanOrEqual(1);
  });
});
