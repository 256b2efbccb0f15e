import { ConsumerConfig, Kafka, logLevel, Partitioners, ProducerConfig } from 'kafkajs';

/**
 * kafkajs as the floor pipeline uses it: the same client, producer and consumer settings as
 * Warden's adapter (libs/platform/src/kafka/kafkajs-adapter.ts), so the floor differs from
 * Warden only in what happens between consuming and producing.
 */
export function benchKafka(brokers: readonly string[], clientId: string, level = logLevel.ERROR): Kafka {
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: level,
    retry: { initialRetryTime: 100, retries: 8 },
  });
}

export const PRODUCER: ProducerConfig = {
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
};

export function consumerConfig(groupId: string): ConsumerConfig {
  return {
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 100,
    retry: { initialRetryTime: 100, retries: 8 },
  };
}

/** Header values as strings (kafkajs hands them over as buffers). */
export function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined || v === null) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}
