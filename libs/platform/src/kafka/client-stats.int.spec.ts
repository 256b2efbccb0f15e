import { Metrics } from '../observability/metrics';
import { eventually, kafkaBrokers, quietLogger, uniquePrefix } from '../testing/infra';
import { PRODUCER_CLIENT } from './client-stats';
import { KafkajsPort } from './kafkajs-adapter';

describe('KafkajsPort client stats (real broker)', () => {
  const prefix = uniquePrefix('client-stats');
  const topic = `${prefix}counted`;
  const group = `${prefix}reader`;
  let port: KafkajsPort;

  beforeAll(async () => {
    port = new KafkajsPort({ brokers: kafkaBrokers(), clientId: 'test-client-stats', logger: quietLogger() });
    await port.connect();
    await port.ensureTopics([{ topic, partitions: 2, config: {} }]);
  });

  afterAll(async () => {
    await port.deleteGroups([group]);
    await port.close();
  });

  it('counts produced records, delivered records per group and topic, requests by API and joins', async () => {
    const records = Array.from({ length: 7 }, (_, i) => ({
      topic,
      key: `k${i % 3}`,
      value: Buffer.from(`v${i}`),
      headers: {},
    }));
    await port.publish(records.slice(0, 4));
    await port.publish(records.slice(4));
    let handled = 0;
    const handle = await port.consume({
      groupId: group,
      topics: [topic],
      fromBeginning: true,
      commitOffsets: true,
      onBatch: async (_t, _p, batch) => {
        handled += batch.length;
        return batch.at(-1)?.offset;
      },
    });
    await eventually(() => handled === 7, 30_000, 'all seven records handled');
    await handle.stop();

    const stats = port.stats.snapshot();
    expect(stats.produced[topic]).toBe(7);
    expect(stats.delivered[group]).toEqual({ [topic]: 7 });
    expect(stats.requests[PRODUCER_CLIENT].Produce).toBe(2);
    expect(stats.requests[group].Fetch).toBeGreaterThanOrEqual(1);
    expect(stats.requests[group].JoinGroup).toBeGreaterThanOrEqual(1);
    expect(stats.joins[group]).toBe(1);

    const metrics = new Metrics('test');
    metrics.observeKafka(() => port.stats.snapshot());
    const text = await metrics.registry.metrics();
    expect(text).toContain(`warden_kafka_records_delivered_total{group="${group}",topic="${topic}",service="test"} 7`);
    expect(text).toContain(`warden_kafka_records_produced_total{topic="${topic}",service="test"} 7`);
    expect(text).toContain(`warden_kafka_requests_total{client="producer",api="Produce",service="test"} 2`);
    expect(text).toContain(`warden_kafka_group_joins_total{group="${group}",service="test"} 1`);
  });
});
