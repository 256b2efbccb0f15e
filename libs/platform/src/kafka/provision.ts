import { ALL_TOPICS, Topic, topicName } from '@warden/contracts';
import { KafkaPort, TopicSpec } from './port';

/**
 * Topic layout (docs/adr/0002-topic-layout.md): every topic has the same partition count so
 * keyed topics are co-partitioned; event topics are kept forever (they are the source of
 * truth); the dead-letter topic keeps 30 days.
 */
export function wardenTopicSpecs(prefix: string, partitions: number): TopicSpec[] {
  return ALL_TOPICS.map((topic): TopicSpec => ({
    topic: topicName(prefix, topic),
    partitions,
    config:
      topic === Topic.deadLetter
        ? { 'retention.ms': String(30 * 24 * 3600 * 1000), 'retention.bytes': '-1', 'cleanup.policy': 'delete' }
        : { 'retention.ms': '-1', 'retention.bytes': '-1', 'cleanup.policy': 'delete' },
  }));
}

export async function provisionTopics(port: KafkaPort, prefix: string, partitions: number): Promise<void> {
  await port.ensureTopics(wardenTopicSpecs(prefix, partitions));
}
