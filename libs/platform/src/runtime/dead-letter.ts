import { Topic, topicName } from '@warden/contracts';
import { RecordIn, RecordOut } from '../kafka/port';

export const DLQ = {
  reason: 'warden_dlq_reason',
  code: 'warden_dlq_code',
  source: 'warden_dlq_source',
  consumer: 'warden_dlq_consumer',
  at: 'warden_dlq_at',
} as const;

/**
 * A record no consumer could handle goes to the dead-letter topic unchanged (key, value and
 * original headers), with the reason and where it came from in extra headers.
 */
export function deadLetter(
  prefix: string,
  consumer: string,
  record: RecordIn,
  code: string,
  reason: string,
  now: number,
): RecordOut {
  return {
    topic: topicName(prefix, Topic.deadLetter),
    key: record.key ?? '',
    value: record.value ?? Buffer.alloc(0),
    headers: {
      ...record.headers,
      [DLQ.code]: code,
      [DLQ.reason]: reason.slice(0, 2000),
      [DLQ.source]: `${record.topic}:${record.partition}:${record.offset}`,
      [DLQ.consumer]: consumer,
      [DLQ.at]: new Date(now).toISOString(),
    },
  };
}
