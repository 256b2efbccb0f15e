import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  ApprovalNotificationDeadLettered,
  create,
  DecisionContextSchema,
  GateDecidedSchema,
  GateRequestedSchema,
  RiskClass,
  Topic,
  Verdict,
} from '@warden/contracts';
import { DLQ, KafkaPort, verifyWebhook, WEBHOOK_URL_HEADER } from '@warden/platform';
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

describe('approval notifications as signed webhooks (real Kafka, real HTTP receiver)', () => {
  const prefix = uniquePrefix('approval-hooks');
  const secret = 'whsec_' + Buffer.from('approval hooks').toString('base64');
  const received: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let server: Server;
  let base: string;
  let db: { url: string; drop(): Promise<void> };
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let approval: InProcessService;

  beforeAll(async () => {
    // /approvers takes everything; /owners (subscribed to every notification) is down.
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body });
        res.statusCode = req.url === '/owners' ? 503 : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    db = await freshDatabase('approval_hooks');
    port = await provisionedPort(prefix, 3);
    recorder = await TopicRecorder.start(port, prefix, [Topic.approvalEvents, Topic.deadLetter]);
    approval = await startInProcess(readApprovalConfig, approvalService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: 'approval-hooks',
      WARDEN_PARTITIONS: '3',
      APPROVAL_HTTP_PORT: '0',
      APPROVAL_WEBHOOKS: `role:approver=${base}/approvers,contact:=${base}/never,*=${base}/owners`,
      APPROVAL_WEBHOOK_SECRET: secret,
      APPROVAL_WEBHOOK_RETRY_DELAYS_MS: '20,20',
    });
  });
  afterAll(async () => {
    await approval?.close();
    await recorder?.stop();
    await port?.close();
    await db?.drop();
    await new Promise((r) => server.close(r));
  });

  it('sends a signed webhook to the approvers, retries the failing owner endpoint and records its dead letter', async () => {
    await publishEvent(
      port,
      prefix,
      Topic.gateDecisions,
      'run-1',
      create(GateDecidedSchema, {
        decisionId: 'd-r1',
        requestId: 'r1',
        tenantId: 'acme',
        agentId: 'bot',
        runId: 'run-1',
        verdict: Verdict.PENDING_APPROVAL,
        reason: 'needs a human',
        decidedAtMs: Date.now(),
        request: create(GateRequestedSchema, {
          requestId: 'r1',
          runId: 'run-1',
          tenantId: 'acme',
          agentId: 'bot',
          tool: 'payments',
          action: 'transfer',
        }),
        context: create(DecisionContextSchema, { riskClass: RiskClass.HIGH }),
      }),
      { tenantId: 'acme', agentId: 'bot', runId: 'run-1' },
    );
    const hook = await eventually(() => received.find((r) => r.path === '/approvers'));
    expect(verifyWebhook(secret, hook.headers, hook.body, Date.now())).toMatchObject({ ok: true });
    const body = JSON.parse(hook.body) as { type: string; data: Record<string, unknown> };
    expect(body).toMatchObject({
      type: 'warden.approval.v1.ApprovalNotificationRequested',
      data: { kind: 'opened', requestId: 'r1', runId: 'run-1', tenantId: 'acme', riskClass: 'high' },
    });
    const [dead] = await eventually(() => {
      const d = recorder
        .events(Topic.approvalEvents)
        .filter((e) => e.type === 'warden.approval.v1.ApprovalNotificationDeadLettered')
        .map((e) => e.data as ApprovalNotificationDeadLettered);
      return d.length > 0 && d;
    });
    expect(dead).toMatchObject({ url: `${base}/owners`, attempts: 3, lastError: 'HTTP 503', runId: 'run-1' });
    expect(received.filter((r) => r.path === '/owners')).toHaveLength(3);
    expect(new Set(received.filter((r) => r.path === '/owners').map((r) => r.headers['webhook-id'])).size).toBe(1);
    const letter = await eventually(() => recorder.on(Topic.deadLetter).find((r) => r.headers[DLQ.code]));
    expect(letter.headers[DLQ.code]).toBe('webhook_undeliverable');
    expect(letter.headers[WEBHOOK_URL_HEADER]).toBe(`${base}/owners`);
    expect(received.some((r) => r.path === '/never')).toBe(false);
  });
});
