import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import {
  AgentRegisteredSchema,
  BudgetSettledSchema,
  create,
  GateDecidedSchema,
  GateRequestedSchema,
  OwnerNotified,
  RunHalted,
  Topic,
  Verdict,
} from '@warden/contracts';
import { callerHeaders, KafkaPort, verifyWebhook } from '@warden/platform';
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
import { readKillSwitchConfig } from './config';
import { killSwitchService } from './service';

const SECRET = 'whsec_' + Buffer.from('killswitch test secret').toString('base64');

describe('kill-switch service (HTTP, real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('killswitch');
  let db: { url: string; drop(): Promise<void> };
  const services: InProcessService[] = [];
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let hooks: Server;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const urls: string[] = [];

  const start = async (instance: string, hookUrl: string) => {
    const service = await startInProcess(readKillSwitchConfig, killSwitchService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_PARTITIONS: '3',
      WARDEN_INSTANCE_ID: instance,
      KILLSWITCH_HTTP_PORT: '0',
      KILLSWITCH_WEBHOOK_URLS: hookUrl,
      KILLSWITCH_WEBHOOK_SECRET: SECRET,
      KILLSWITCH_WEBHOOK_RETRY_MS: '50,100',
      KILLSWITCH_EXPIRY_TICK_MS: '100',
    });
    services.push(service);
    urls.push(service.url);
  };
  const call = async (
    i: number,
    method: string,
    path: string,
    body?: unknown,
    who: { roles?: string; tenant?: string; headers?: Record<string, string> } = {},
  ) => {
    const res = await fetch(`${urls[i]}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(await callerHeaders({ subject: 'sam', roles: who.roles ?? 'sre', tenant: who.tenant ?? 'acme' })),
        ...who.headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      etag: res.headers.get('etag') ?? '',
      body: (text ? JSON.parse(text) : {}) as Record<string, unknown> & { revocations?: { switchId: string }[] },
    };
  };
  const events = <T>(type: string) =>
    recorder
      .events(Topic.killswitchEvents)
      .filter((e) => e.type === `warden.killswitch.v1.${type}`)
      .map((e) => e.data as T);

  /** The gate's decision of one request (the request of record rides on it), as policy publishes it. */
  const decided = (runId: string, requestId: string, stepId: string, agentId = 'payroll-bot', tool = 'bank.transfer') =>
    publishEvent(
      port,
      prefix,
      Topic.gateDecisions,
      runId,
      create(GateDecidedSchema, {
        decisionId: `d-${requestId}`,
        requestId,
        runId,
        stepId,
        tenantId: 'acme',
        agentId,
        verdict: Verdict.ALLOW,
        final: true,
        decidedAtMs: Date.now(),
        request: create(GateRequestedSchema, {
          requestId,
          stepId,
          runId,
          tenantId: 'acme',
          agentId,
          tool,
          requestedAtMs: Date.now(),
        }),
      }),
      { tenantId: 'acme', agentId, runId },
    );
  beforeAll(async () => {
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/warden`;
    db = await freshDatabase('killswitch');
    // The world the switches act on: two agents with owners, runs on the gate.
    port = await provisionedPort(prefix);
    for (const [agentId, team] of [
      ['payroll-bot', 'payroll'],
      ['hr-bot', 'people'],
    ]) {
      await publishEvent(
        port,
        prefix,
        Topic.registryEvents,
        agentId,
        create(AgentRegisteredSchema, {
          agentId,
          tenantId: 'acme',
          profile: { owner: { team, contact: `${team}@acme.test` } },
          version: 1,
        }),
      );
    }
    await decided('run-pay', 'run-pay-1', 's1');
    // The budget stage settled the agent's report of step s1: the run's last completed step.
    await publishEvent(
      port,
      prefix,
      Topic.budgetReservations,
      'run-pay',
      create(BudgetSettledSchema, {
        reservationId: 'res-run-pay-1',
        requestId: 'run-pay-1',
        stepId: 's1',
        runId: 'run-pay',
        tenantId: 'acme',
        agentId: 'payroll-bot',
      }),
      { tenantId: 'acme', agentId: 'payroll-bot', runId: 'run-pay' },
    );
    await decided('run-hr', 'run-hr-1', 's1', 'hr-bot', 'email.send');
    await start('ks-a', hookUrl);
    await start('ks-b', hookUrl);
    recorder = await TopicRecorder.start(port, prefix, [Topic.killswitchEvents]);
  });
  afterAll(async () => {
    for (const service of services) await service.close();
    await recorder.stop();
    await port.close();
    await db.drop();
    await new Promise((r) => hooks.close(r));
  });

  it('engages a switch with all effects: recorded on Kafka, listed as active from Postgres', async () => {
    const engaged = await call(0, 'POST', '/killswitches', {
      switchId: 'ks-1',
      scope: { tenantId: 'acme', agentId: 'payroll-bot' },
      reason: 'runaway',
    });
    expect(engaged.status).toBe(201);
    expect(engaged.body).toMatchObject({
      switchId: 'ks-1',
      status: 'engaged',
      engagedBy: 'sam',
      scope: { tenantId: 'acme', agentId: 'payroll-bot' },
      effects: expect.arrayContaining(['STOP_RUN', 'REVOKE_TOOLS', 'NOTIFY_OWNER', 'SAFE_STATE']),
      ownersNotified: [{ team: 'payroll', contact: 'payroll@acme.test', agentIds: ['payroll-bot'] }],
      runsHalted: ['run-pay'],
    });
    await eventually(() => events('KillSwitchEngaged').length > 0, 20_000, 'the engaged event');
    const listed = await eventually(async () => {
      const rows = (await call(1, 'GET', '/killswitches?active=true')).body as unknown as { id: string }[];
      return rows.some((x) => x.id === 'ks-1') && rows;
    });
    expect(listed[0]).toMatchObject({ id: 'ks-1', tenantId: 'acme', agentId: 'payroll-bot', reason: 'runaway' });
  });

  it('effect 8: halts each live run in scope once, naming its last completed step; later runs on their first request', async () => {
    const halted = await eventually(() => events<RunHalted>('RunHalted').find((h) => h.runId === 'run-pay'));
    expect(halted).toMatchObject({
      switchId: 'ks-1',
      tenantId: 'acme',
      agentId: 'payroll-bot',
      lastCompletedStepId: 's1',
      lastCompletedRequestId: 'run-pay-1',
    });
    // A run that starts after the engage is halted when it asks, once however often it asks.
    for (const n of [1, 2, 3]) {
      await decided('run-late', `late-${n}`, `s${n}`);
    }
    await eventually(() => events<RunHalted>('RunHalted').some((h) => h.runId === 'run-late'));
    // The hr run is out of scope: never halted; run-pay asked again and is not halted twice.
    await decided('run-pay', 'run-pay-2', 's2');
    // Every gate decision (2 before, 4 after the engage) has been through the run-halts processor.
    await eventually(async () => {
      const text = (await Promise.all(urls.map(async (u) => (await fetch(`${u}/metrics`)).text()))).join('\n');
      const seen = [
        ...text.matchAll(
          /warden_messages_total\{consumer="killswitch-run-halts",topic="gate.decisions",outcome="\w+",service="killswitch"\} (\d+)/g,
        ),
      ];
      return seen.reduce((n, m) => n + Number(m[1]), 0) >= 6;
    });
    const all = events<RunHalted>('RunHalted').map((h) => h.runId);
    expect(all.sort()).toEqual(['run-late', 'run-pay']);
  });

  it('effect 7: notifies the owner with an event and a signed webhook, recording the delivery', async () => {
    const notified = await eventually(() => events<OwnerNotified>('OwnerNotified')[0]);
    expect(notified).toMatchObject({ switchId: 'ks-1', team: 'payroll', agentIds: ['payroll-bot'] });
    const hook = await eventually(() => received.find((r) => r.headers['webhook-id'] === notified.notificationId));
    expect(verifyWebhook(SECRET, hook.headers, hook.body, Date.now())).toMatchObject({ ok: true });
    expect(JSON.parse(hook.body)).toMatchObject({
      type: 'warden.killswitch.v1.OwnerNotified',
      data: { switchId: 'ks-1', team: 'payroll', contact: 'payroll@acme.test', reason: 'runaway' },
    });
    const delivered = await eventually(
      () => events<{ delivered: boolean; attempts: number }>('OwnerNotificationDelivered')[0],
    );
    expect(delivered).toMatchObject({ delivered: true, attempts: 1, lastStatus: 204 });
  });

  it('effect 2: publishes the revocation and lists it on GET /revocations, with since and ETag for polling', async () => {
    const revoked = await eventually(() => events<{ issuedBeforeMs: number }>('DecisionTokensRevoked')[0]);
    const first = await call(1, 'GET', '/revocations', undefined, { roles: 'owner' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      revocations: [
        {
          switchId: 'ks-1',
          scope: { tenantId: 'acme', agentId: 'payroll-bot', runId: '', tool: '' },
          issuedBeforeMs: revoked.issuedBeforeMs,
        },
      ],
      latestRevokedAtMs: revoked.issuedBeforeMs,
    });
    const again = await call(1, 'GET', '/revocations', undefined, {
      roles: 'owner',
      headers: { 'if-none-match': first.etag },
    });
    expect(again.status).toBe(304);
    expect((await call(1, 'GET', `/revocations?since=${revoked.issuedBeforeMs + 1}`)).body.revocations).toEqual([]);
    expect((await call(1, 'GET', '/revocations', undefined, { tenant: 'globex' })).body.revocations).toEqual([]);
    expect((await call(1, 'GET', '/revocations?since=yesterday')).body).toMatchObject({ field: 'since' });
  });

  it('only the effects asked for: a tool switch that only stops runs revokes nothing and notifies no one', async () => {
    const before = recorder.on(Topic.killswitchEvents).length;
    const r = await call(0, 'POST', '/killswitches', {
      switchId: 'ks-tool',
      scope: { tenantId: 'acme', tool: 'email.send' },
      reason: 'spam',
      effects: ['stop_run'],
    });
    expect(r).toMatchObject({ status: 201, body: { effects: ['STOP_RUN'], ownersNotified: [], runsHalted: [] } });
    await eventually(() => recorder.on(Topic.killswitchEvents).length > before);
    await new Promise((res) => setTimeout(res, 300));
    expect(
      recorder
        .events(Topic.killswitchEvents)
        .filter((e) => e.key === 'ks-tool')
        .map((e) => e.type),
    ).toEqual(['warden.killswitch.v1.KillSwitchEngaged']);
  });

  it('rejects bad input with problem+json naming the field, and changes nothing', async () => {
    const before = recorder.on(Topic.killswitchEvents).length;
    const noReason = await call(0, 'POST', '/killswitches', { scope: { tenantId: 'acme' } });
    expect(noReason).toMatchObject({ status: 400, body: { code: 'reason_required', field: 'reason' } });
    expect(noReason.type).toContain('application/problem+json');
    const bad = async (body: unknown, code: string, field: string, status = 400) =>
      expect(await call(0, 'POST', '/killswitches', body)).toMatchObject({ status, body: { code, field } });
    await bad({ scope: { tennantId: 'acme' }, reason: 'r' }, 'unknown_field', 'scope.tennantId');
    await bad({ scope: { tenantId: 'acme' }, reason: 'r', scop: {} }, 'unknown_field', 'scop');
    await bad({ scope: { tenantId: 'acme', tool: 'x y' }, reason: 'r' }, 'invalid_scope', 'scope.tool');
    await bad({ scope: 'everything', reason: 'r' }, 'invalid_body', 'scope');
    await bad(
      { scope: { tenantId: 'acme' }, reason: 'r', effects: ['stop_run', 'nuke'] },
      'unknown_effect',
      'effects[1]',
    );
    await bad(
      { scope: { tenantId: 'acme' }, reason: 'r', expiresAtMs: Date.now() - 1000 },
      'expiry_in_past',
      'expiresAtMs',
    );
    expect((await call(0, 'POST', '/killswitches', { reason: 'r' }, { roles: 'owner' })).status).toBe(403);
    expect((await call(0, 'POST', '/killswitches', { reason: 'global' })).body).toMatchObject({
      code: 'platform_admin_required',
    });
    expect((await call(0, 'POST', '/killswitches', { scope: { tenantId: 'globex' }, reason: 'r' })).body).toMatchObject(
      {
        code: 'platform_admin_required',
      },
    );
    expect((await call(0, 'POST', '/killswitches/ks-1/release', { reason: 'r' }, { roles: 'approver' })).status).toBe(
      403,
    );
    expect((await call(0, 'POST', '/killswitches/ks-1/release', { reason: 'r' }, { tenant: 'globex' })).status).toBe(
      403,
    );
    expect((await call(0, 'POST', '/killswitches/ks-1/release', {})).body).toMatchObject({ field: 'reason' });
    expect((await call(0, 'POST', '/killswitches/nope/release', { reason: 'r' })).status).toBe(404);
    expect((await call(0, 'GET', '/killswitches/ks-1', undefined, { tenant: 'globex' })).status).toBe(404);
    await new Promise((r) => setTimeout(r, 300));
    expect(recorder.on(Topic.killswitchEvents).length).toBe(before);
  });

  it('expires a switch at its expiry: released by "system" through the tick, gone from the active list', async () => {
    const r = await call(0, 'POST', '/killswitches', {
      switchId: 'ks-exp',
      scope: { tenantId: 'acme', agentId: 'hr-bot' },
      reason: 'cool down',
      effects: ['STOP_RUN'],
      expiresAtMs: Date.now() + 1000,
    });
    expect(r.status).toBe(201);
    const released = await eventually(() =>
      events<{ switchId: string; releasedBy: string; expired: boolean }>('KillSwitchReleased').find(
        (e) => e.switchId === 'ks-exp',
      ),
    );
    expect(released).toMatchObject({ releasedBy: 'system', expired: true });
    await eventually(async () =>
      (await call(1, 'GET', '/killswitches/ks-exp')).body.expired === true ? true : undefined,
    );
    const active = (await call(1, 'GET', '/killswitches?active=true')).body as unknown as { id: string }[];
    expect(active.map((x) => x.id)).not.toContain('ks-exp');
    const history = (await call(1, 'GET', '/killswitches')).body as unknown as { id: string }[];
    expect(history.map((x) => x.id)).toContain('ks-exp');
  });

  it('two instances releasing the same switch at once: exactly one wins, the other gets 409', async () => {
    const [a, b] = await Promise.all([
      call(0, 'POST', '/killswitches/ks-1/release', { reason: 'fixed' }),
      call(1, 'POST', '/killswitches/ks-1/release', { reason: 'also fixed' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? a : b;
    expect(winner.body).toMatchObject({ status: 'released' });
    await eventually(async () => ((await call(1, 'GET', '/killswitches/ks-1')).body.releasedAt ? true : undefined));
    expect((await call(0, 'POST', '/killswitches/ks-1/release', { reason: 'again' })).status).toBe(409);
  });

  it('readiness reflects Postgres, Kafka and consumers; liveness stays up', async () => {
    const ready = await fetch(`${urls[0]}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'up',
      kafka: 'up',
      postgres: 'up',
      consumers: {
        'table:killswitch-switches': 'running',
        'table:killswitch-gate-context': 'running',
        'processor:killswitch-run-halts': 'running',
        'projection:switches': 'running',
        'webhooks:killswitch-owner-webhooks': 'running',
      },
    });
    await db.drop();
    await new Promise((r) => setTimeout(r, 1100));
    const down = await fetch(`${urls[0]}/health/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'down', postgres: 'down', kafka: 'up' });
    expect((await fetch(`${urls[0]}/health/live`)).status).toBe(200);
    const metrics = await Promise.all(urls.map(async (u) => (await fetch(`${u}/metrics`)).text()));
    expect(metrics.join('\n')).toMatch(
      /warden_messages_total\{consumer="projection.switches",topic="killswitch.events",outcome="handled",service="killswitch"\} [1-9]/,
    );
  });
});
