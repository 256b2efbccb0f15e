import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { create, KillSwitchEngaged, KillSwitchEngagedSchema, Topic } from '@warden/contracts';
import { KafkaPort } from '../kafka/port';
import { Metrics } from '../observability/metrics';
import { DLQ } from '../runtime/dead-letter';
import { eventually, provisionedPort, publishEvent, quietLogger, TopicRecorder, uniquePrefix } from '../testing/infra';
import { DeliveryResult } from './delivery';
import { WEBHOOK_URL_HEADER, WebhookReactor } from './reactor';
import { verifyWebhook } from './signature';

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

describe('webhook reactor (real Kafka, real HTTP server)', () => {
  const prefix = uniquePrefix('webhooks');
  const secret = 'whsec_' + Buffer.from('test secret').toString('base64');
  const received: Received[] = [];
  const outcomes: { id: string; result: DeliveryResult }[] = [];
  let server: Server;
  let base: string;
  let port: KafkaPort;
  let reactor: WebhookReactor;
  let recorder: TopicRecorder;

  beforeAll(async () => {
    // /ok answers 204; /flaky fails with 500 the first time it sees a message id; /down always 500; /gone 410.
    const seen = new Set<string>();
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const id = String(req.headers['webhook-id']);
        let status = 204;
        if (req.url === '/flaky' && !seen.has(id)) status = 500;
        if (req.url === '/down') status = 500;
        if (req.url === '/gone') status = 410;
        seen.add(id);
        received.push({ path: req.url ?? '', headers: req.headers, body, status });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    port = await provisionedPort(prefix);
    recorder = await TopicRecorder.start(port, prefix, [Topic.deadLetter]);
    reactor = new WebhookReactor(
      {
        name: 'test-webhooks',
        topics: [Topic.killswitchEvents],
        handles: ['warden.killswitch.v1.KillSwitchEngaged'],
        deliveries: (event) => {
          const e = event.data as KillSwitchEngaged;
          return [
            {
              id: `n-${e.switchId}`,
              url: `${base}/${e.reason}`,
              secret,
              type: event.type,
              data: { switchId: e.switchId },
            },
          ];
        },
        outcome: (_event, message, result) => {
          outcomes.push({ id: message.id, result });
          return [];
        },
        retry: { delaysMs: [20, 40], timeoutMs: 2000 },
      },
      { port, prefix, service: 'test', logger: quietLogger(), metrics: new Metrics('test') },
    );
    await reactor.start();
  });

  afterAll(async () => {
    await reactor.stop();
    await recorder.stop();
    await port.close();
    await new Promise((r) => server.close(r));
  });

  const engage = (switchId: string, reason: string) =>
    publishEvent(port, prefix, Topic.killswitchEvents, switchId, create(KillSwitchEngagedSchema, { switchId, reason }));

  it('delivers a signed webhook the receiver can verify over the raw body', async () => {
    await engage('ks-ok', 'ok');
    const got = await eventually(() => received.find((r) => r.headers['webhook-id'] === 'n-ks-ok'));
    expect(verifyWebhook(secret, got.headers, got.body, Date.now())).toMatchObject({ ok: true, id: 'n-ks-ok' });
    expect(JSON.parse(got.body)).toMatchObject({
      type: 'warden.killswitch.v1.KillSwitchEngaged',
      data: { switchId: 'ks-ok' },
    });
    expect(
      verifyWebhook('whsec_' + Buffer.from('wrong').toString('base64'), got.headers, got.body, Date.now()).ok,
    ).toBe(false);
    const outcome = await eventually(() => outcomes.find((o) => o.id === 'n-ks-ok'));
    expect(outcome.result).toMatchObject({ delivered: true, attempts: [{ attempt: 1, status: 204, error: '' }] });
  });

  it('retries after a 500 with the same webhook-id and a fresh signature, then delivers', async () => {
    await engage('ks-flaky', 'flaky');
    const outcome = await eventually(() => outcomes.find((o) => o.id === 'n-ks-flaky'));
    expect(outcome.result.delivered).toBe(true);
    expect(outcome.result.attempts.map((a) => a.status)).toEqual([500, 204]);
    const calls = received.filter((r) => r.headers['webhook-id'] === 'n-ks-flaky');
    expect(calls.map((c) => c.status)).toEqual([500, 204]);
    for (const c of calls) expect(verifyWebhook(secret, c.headers, c.body, Date.now()).ok).toBe(true);
  });

  it('dead-letters the notification after the last attempt fails, naming the endpoint, and goes on', async () => {
    await engage('ks-down', 'down');
    await engage('ks-gone', 'gone');
    await engage('ks-after', 'ok');
    const dead = await eventually(() => {
      const records = recorder.on(Topic.deadLetter);
      return records.length >= 2 && records;
    });
    const down = dead.find((r) => r.key === 'ks-down');
    expect(down?.headers).toMatchObject({
      [DLQ.code]: 'webhook_undeliverable',
      [DLQ.consumer]: 'test-webhooks',
      [WEBHOOK_URL_HEADER]: `${base}/down`,
    });
    expect(down?.headers[DLQ.reason]).toContain('HTTP 500 after 3 attempt(s)');
    expect(received.filter((r) => r.headers['webhook-id'] === 'n-ks-down')).toHaveLength(3);
    // A 410 is final: one attempt, then the dead-letter topic.
    expect(dead.find((r) => r.key === 'ks-gone')?.headers[DLQ.reason]).toContain('HTTP 410 after 1 attempt(s)');
    expect(received.filter((r) => r.headers['webhook-id'] === 'n-ks-gone')).toHaveLength(1);
    await eventually(() => outcomes.find((o) => o.id === 'n-ks-after')?.result.delivered);
  });
});
