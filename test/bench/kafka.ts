import { Kafka, logLevel, RetryOptions } from 'kafkajs';
import { KAFKAJS_PRODUCER, KAFKAJS_RETRY, kafkajsConsumerConfig } from '@warden/platform';

/**
 * kafkajs as the floor pipeline uses it: the same client, producer and consumer settings as
 * Warden's adapter (libs/platform/src/kafka/kafkajs-adapter.ts exports them), so the floor differs
 * from Warden only in what happens between consuming and producing.
 */
export function benchKafka(
  brokers: readonly string[],
  clientId: string,
  level = logLevel.ERROR,
  retry: RetryOptions = KAFKAJS_RETRY,
): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: level, retry });
}

export const PRODUCER = KAFKAJS_PRODUCER;

export const consumerConfig = (groupId: string) => kafkajsConsumerConfig(groupId);

/** Header values as strings (kafkajs hands them over as buffers). */
export function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (v === undefined || v === null) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}
