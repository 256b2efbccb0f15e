import { Topic } from '@warden/contracts';
import { callerHeaders, KafkaPort } from '@warden/platform';
import {
  connectedPort,
  eventually,
  freshDatabase,
  InProcessService,
  startInProcess,
  TopicRecorder,
  uniquePrefix,
} from '@warden/platform/testing';
import { readKillSwitchConfig } from './config';
import { killSwitchService } from './service';

describe('kill-switch service (HTTP, real Kafka and Postgres)', () => {
  const prefix = uniquePrefix('killswitch');
  let db: { url: string; drop(): Promise<void> };
  const services: InProcessService[] = [];
  let port: KafkaPort;
  let recorder: TopicRecorder;
  const urls: string[] = [];

  const start = async (instance: string) => {
    const service = await startInProcess(readKillSwitchConfig, killSwitchService, {
      DATABASE_URL: db.url,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_INSTANCE_ID: instance,
      KILLSWITCH_HTTP_PORT: '0',
    });
    services.push(service);
    urls.push(service.url);
  };
  const call = async (i: number, method: string, path: string, body?: unknown, roles = 'sre') => {
    const res = await fetch(`${urls[i]}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(await callerHeaders({ subject: 'sam', roles, tenant: 'acme' })),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      body: (await res.json()) as Record<string, unknown>,
    };
  };

  beforeAll(async () => {
    db = await freshDatabase('killswitch');
    await start('ks-a');
    await start('ks-b');
    port = await connectedPort('ks-test');
    recorder = await TopicRecorder.start(port, prefix, [Topic.killswitchEvents]);
  });
  afterAll(async () => {
    for (const service of services) await service.close();
    await recorder.stop();
    await port.close();
    await db.drop();
  });

  it('engages a switch, records it on Kafka, and lists it as active from Postgres', async () => {
    const engaged = await call(0, 'POST', '/killswitches', {
      switchId: 'ks-1',
      scope: { tenantId: 'acme', agentId: 'bot' },
      reason: 'runaway',
    });
    expect(engaged.status).toBe(201);
    expect(engaged.body).toMatchObject({
      switchId: 'ks-1',
      status: 'engaged',
      engagedBy: 'sam',
      scope: { tenantId: 'acme', agentId: 'bot' },
    });
    // The call returns once the service has read its event back; the test's own reader may lag a little.
    await eventually(
      () => recorder.events(Topic.killswitchEvents).some((e) => e.type === 'warden.killswitch.v1.KillSwitchEngaged'),
      20_000,
      'the engaged event on killswitch.events',
    );
    const listed = await eventually(async () => {
      const r = await fetch(`${urls[1]}/killswitches?active=true`);
      const rows = (await r.json()) as { id: string }[];
      return rows.some((x) => x.id === 'ks-1') && rows;
    });
    expect(listed[0]).toMatchObject({
      id: 'ks-1',
      tenant_id: 'acme',
      agent_id: 'bot',
      reason: 'runaway',
      released_at: null,
    });
  });

  it('rejects bad input with problem+json naming the field, and changes nothing', async () => {
    const before = recorder.on(Topic.killswitchEvents).length;
    const noReason = await call(0, 'POST', '/killswitches', { scope: { tenantId: 'acme' } });
    expect(noReason).toMatchObject({ status: 400, body: { code: 'reason_required', field: 'reason' } });
    expect(noReason.type).toContain('application/problem+json');
    expect((await call(0, 'POST', '/killswitches', { scope: { tool: 'x y' }, reason: 'r' })).body).toMatchObject({
      code: 'invalid_scope',
      field: 'scope.tool',
    });
    expect((await call(0, 'POST', '/killswitches', { scope: 'everything', reason: 'r' })).body).toMatchObject({
      code: 'invalid_body',
      field: 'scope',
    });
    expect((await call(0, 'POST', '/killswitches', { reason: 'r' }, 'owner')).status).toBe(403);
    expect((await call(0, 'POST', '/killswitches/ks-1/release', { reason: 'r' }, 'approver')).status).toBe(403);
    expect((await call(0, 'POST', '/killswitches/nope/release', { reason: 'r' })).status).toBe(404);
    await new Promise((r) => setTimeout(r, 300));
    expect(recorder.on(Topic.killswitchEvents).length).toBe(before);
  });

  it('two instances releasing the same switch at once: exactly one wins, the other gets 409', async () => {
    const [a, b] = await Promise.all([
      call(0, 'POST', '/killswitches/ks-1/release', { reason: 'fixed' }),
      call(1, 'POST', '/killswitches/ks-1/release', { reason: 'also fixed' }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? a : b;
    expect(winner.body).toMatchObject({ status: 'released' });
    await eventually(async () => ((await call(1, 'GET', '/killswitches/ks-1')).body.released_at ? true : undefined));
    expect((await call(0, 'POST', '/killswitches/ks-1/release', { reason: 'again' })).status).toBe(409);
  });

  it('readiness reflects Postgres, Kafka and consumers; liveness stays up', async () => {
    const ready = await fetch(`${urls[0]}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'up',
      kafka: 'up',
      postgres: 'up',
      consumers: { 'table:killswitch-switches': 'running', 'projection:switches': 'running' },
    });
    await db.drop();
    await new Promise((r) => setTimeout(r, 1100));
    const down = await fetch(`${urls[0]}/health/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'down', postgres: 'down', kafka: 'up' });
    expect((await fetch(`${urls[0]}/health/live`)).status).toBe(200);
    // The projection's partitions are shared by the two instances: one of them handled the events.
    const metrics = await Promise.all(urls.map(async (u) => (await fetch(`${u}/metrics`)).text()));
    expect(metrics.join('\n')).toMatch(
      /warden_messages_total\{consumer="projection.switches",topic="killswitch.events",outcome="handled",service="killswitch"\} [1-9]/,
    );
  });
});
