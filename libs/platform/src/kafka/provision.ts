import { ALL_TOPICS, replyTopic, Topic, topicName } from '@warden/contracts';
import { KafkaPort, TopicSpec } from './port';

const DAY_MS = 24 * 3600 * 1000;

/** How long the agent-facing topics keep raw input by default (docs/adr/0070): a week. */
export const DEFAULT_INGRESS_RETENTION_MS = 7 * DAY_MS;

/** Agent input: raw arguments and proofs, read only by the budget stage, kept for a bounded time. */
const INGRESS: ReadonlySet<string> = new Set([Topic.gateRequests, Topic.gateOutcomes, Topic.gateRerouted]);

/**
 * Topic layout (docs/adr/0002-topic-layout.md): every topic has the same partition count so
 * keyed topics are co-partitioned; event topics are kept forever (they are the source of
 * truth); the dead-letter topic keeps 30 days; the agent-facing topics and the reroute topic keep
 * raw input for `ingressRetentionMs` (docs/adr/0070: the sanitized request is the event of record).
 */
export function wardenTopicSpecs(
  prefix: string,
  partitions: number,
  ingressRetentionMs = DEFAULT_INGRESS_RETENTION_MS,
): TopicSpec[] {
  const retention = (topic: string) =>
    topic === Topic.deadLetter ? 30 * DAY_MS : INGRESS.has(topic) ? ingressRetentionMs : -1;
  return ALL_TOPICS.map((topic): TopicSpec => ({
    topic: topicName(prefix, topic),
    partitions,
    config: { 'retention.ms': String(retention(topic)), 'retention.bytes': '-1', 'cleanup.policy': 'delete' },
  }));
}

export async function provisionTopics(
  port: KafkaPort,
  prefix: string,
  partitions: number,
  ingressRetentionMs = DEFAULT_INGRESS_RETENTION_MS,
): Promise<void> {
  await port.ensureTopics(wardenTopicSpecs(prefix, partitions, ingressRetentionMs));
}

/** How long an agent's reply topic keeps replies: a reply is for an agent that waits, not a record. */
export const REPLY_RETENTION_MS = DAY_MS;

/**
 * An agent's reply topic (docs/adr/0070): one partition (one agent's replies, in order), kept a
 * day. Created by the registry when the agent is registered, and by policy before its first reply.
 */
export function replyTopicSpec(prefix: string, tenantId: string, agentId: string): TopicSpec {
  return {
    topic: `${prefix}${replyTopic(tenantId, agentId)}`,
    partitions: 1,
    config: { 'retention.ms': String(REPLY_RETENTION_MS), 'retention.bytes': '-1', 'cleanup.policy': 'delete' },
  };
}
