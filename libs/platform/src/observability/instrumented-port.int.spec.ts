import { Topic, topicName } from '@warden/contracts';
import { KafkaPort, RecordIn } from '../kafka/port';
import { deadLetter } from '../runtime/dead-letter';
import { eventually, provisionedPort, uniquePrefix } from '../testing/infra';
import { InstrumentedPort } from './instrumented-port';
import { Metrics } from './metrics';

/** Lag and dead letters as the instrumented port measures them, on the real broker. */
describe('InstrumentedPort', () => {
  const prefix = uniquePrefix('instrumented');
  const requests = topicName(prefix, Topic.gateRequests);
  let inner: KafkaPort;
  let port: InstrumentedPort;
  let metrics: Metrics;

  const sample = async (name: string, labels: string): Promise<number | undefined> => {
    const text = await metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const record = (i: number) => ({
    topic: requests,
    key: `run-${i}`,
    value: Buffer.from(`r${i}`),
    headers: {},
    partition: 0,
  });

  beforeAll(async () => {
    inner = await provisionedPort(prefix, 1);
    metrics = new Metrics('test');
    port = new InstrumentedPort(inner, metrics, prefix);
  });

  afterAll(async () => {
    await inner.close();
  });

  it('reports each group’s lag per partition from the broker’s high watermark at each scrape', async () => {
    await port.publish([record(0), record(1)]);
    const handled: RecordIn[] = [];
    const gate = { hold: Promise.resolve() };
    let release: () => void = () => undefined;
    const consumer = await port.consume({
      groupId: `${prefix}lagging`,
      topics: [requests],
      fromBeginning: true,
      commitOffsets: true,
      onBatch: async (_topic, _partition, records) => {
        await gate.hold;
        handled.push(...records);
        return records.at(-1)?.offset;
      },
    });
    const labels = 'group="lagging",topic="gate.requests",partition="0"';
    await eventually(async () => handled.length === 2 && (await sample('warden_consumer_lag_records', labels)) === 0);
    gate.hold = new Promise<void>((resolve) => (release = resolve));
    await port.publish([record(2), record(3), record(4)]);
    expect(await eventually(async () => (await sample('warden_consumer_lag_records', labels)) === 3)).toBe(true);
    release();
    await eventually(async () => handled.length === 5 && (await sample('warden_consumer_lag_records', labels)) === 0);
    await consumer.stop();
    expect(await sample('warden_consumer_lag_records', labels)).toBeUndefined();
  });

  it('counts the records it publishes to the dead-letter topic by consumer, source topic and reason code', async () => {
    const bad: RecordIn = { ...record(9), offset: '7', timestamp: '0', partition: 0 };
    await port.publish([record(10), deadLetter(prefix, 'budget-reservations', bad, 'envelope:undecodable', 'no', 0)]);
    const labels = 'consumer="budget-reservations",topic="gate.requests",code="envelope:undecodable"';
    expect(await sample('warden_dead_letters_total', labels)).toBe(1);
  });
});
