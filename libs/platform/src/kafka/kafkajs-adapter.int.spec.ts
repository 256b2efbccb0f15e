import { kafkaBrokers, quietLogger, uniquePrefix } from '../testing/infra';
import { KafkajsPort } from './kafkajs-adapter';

describe('KafkajsPort topic provisioning (real broker)', () => {
  const topic = `${uniquePrefix('provision')}keyed`;
  let port: KafkajsPort;

  beforeAll(async () => {
    port = new KafkajsPort({ brokers: kafkaBrokers(), clientId: 'test-provision', logger: quietLogger() });
    await port.connect();
  });

  afterAll(async () => {
    await port.close();
  });

  it('creates a missing topic, and accepts it again with the same partition count', async () => {
    await port.ensureTopics([{ topic, partitions: 2, config: {} }]);
    await expect(port.ensureTopics([{ topic, partitions: 2, config: {} }])).resolves.toBeUndefined();
    expect(await port.watermarks(topic)).toHaveLength(2);
  });

  it('refuses a topic whose partition count is not the configured one, naming both', async () => {
    // A service configured with 6 partitions would route keys to partitions 2-5 of this topic.
    await expect(port.ensureTopics([{ topic, partitions: 6, config: {} }])).rejects.toThrow(
      `${topic} has 2 partitions, not 6`,
    );
  });
});
