import { createHash } from 'node:crypto';

/**
 * Reply routing (docs/adr/0070): every agent has a reply topic `replies.<tenant>.<agent>` (plus
 * the installation's prefix), created by the registry when the agent is registered and written
 * only by the policy service. An agent principal is granted READ on its own topic, or a tenant's
 * agent group on the prefix `replies.<tenant>.`, so tenant isolation is a Kafka ACL.
 *
 * Ids may hold characters topic names cannot (`:`, `@`) and `.`, which would make one tenant's
 * prefix match another's; each id is encoded on its own: `[A-Za-z0-9-]` kept, every other byte of
 * its UTF-8 form written as `_` and two lower-case hex digits (so `.` becomes `_2e`). An encoded id
 * longer than 96 characters is replaced by `h-` and the first 40 hex digits of its SHA-256.
 */
export const REPLY_TOPIC_PREFIX = 'replies.';

const MAX_PART = 96;

export function encodeTopicPart(id: string): string {
  let out = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  if (out.length <= MAX_PART) return out;
  return `h-${createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 40)}`;
}

/** The prefix every reply topic of one tenant starts with (without the installation's prefix). */
export function tenantReplyPrefix(tenantId: string): string {
  return `${REPLY_TOPIC_PREFIX}${encodeTopicPart(tenantId)}.`;
}

/** An agent's reply topic, without the installation's prefix. */
export function replyTopic(tenantId: string, agentId: string): string {
  return `${tenantReplyPrefix(tenantId)}${encodeTopicPart(agentId)}`;
}

/** The consumer-group prefix of one tenant's agents (an agent's SDK groups start with it). */
export function tenantGroupPrefix(tenantId: string): string {
  return `sdk.${encodeTopicPart(tenantId)}.`;
}
