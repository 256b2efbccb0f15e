import { Topic, topicName } from '@warden/contracts';
import { RecordIn, RecordOut } from '../kafka/port';

export const DLQ = {
  reason: 'warden_dlq_reason',
  code: 'warden_dlq_code',
  source: 'warden_dlq_source',
  consumer: 'warden_dlq_consumer',
  at: 'warden_dlq_at',
  /** How many credentials were masked in the value. */
  masked: 'warden_dlq_masked',
} as const;

/** A compact JWS (agent token, proof, decision token) anywhere in a record: `eyJ` is base64url of `{"`. */
const JWS = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}/g;

/**
 * Masks every compact JWS in a value with `*` of the same length, so a protobuf value stays
 * decodable: no credential rests in a dead letter (ARCHITECTURE invariant 8). Returns the count.
 */
export function maskCredentials(value: Buffer): { value: Buffer; masked: number } {
  const text = value.toString('latin1');
  let masked = 0;
  const out = text.replace(JWS, (m) => {
    masked += 1;
    return '*'.repeat(m.length);
  });
  return masked === 0 ? { value, masked } : { value: Buffer.from(out, 'latin1'), masked };
}

/**
 * The ids a record names, as far as they can be read: from its body when it is JSON (either
 * spelling of the field names), else from the CloudEvents headers (`ce_id` stands for the request
 * id of a gate request, docs/protocol.md).
 */
export function readableIds(record: RecordIn): { requestId: string; tenantId: string; agentId: string; runId: string } {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse((record.value ?? Buffer.alloc(0)).toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: the headers are all there is.
  }
  const pick = (json: string, proto: string, header: string) => {
    const v = body[json] ?? body[proto];
    const text = typeof v === 'string' ? v : (record.headers[header] ?? '');
    return /^[A-Za-z0-9._:@-]{1,128}$/.test(text) ? text : '';
  };
  return {
    requestId: pick('requestId', 'request_id', 'ce_id'),
    tenantId: pick('tenantId', 'tenant_id', 'ce_tenantid'),
    agentId: pick('agentId', 'agent_id', 'ce_agentid'),
    runId: pick('runId', 'run_id', 'ce_runid'),
  };
}

/**
 * A record no consumer could handle goes to the dead-letter topic unchanged (key, value and
 * original headers) but for credentials, which are masked, with the reason and where it came from
 * in extra headers.
 */
export function deadLetter(
  prefix: string,
  consumer: string,
  record: RecordIn,
  code: string,
  reason: string,
  now: number,
): RecordOut {
  const { value, masked } = maskCredentials(record.value ?? Buffer.alloc(0));
  return {
    topic: topicName(prefix, Topic.deadLetter),
    key: record.key ?? '',
    value,
    headers: {
      ...record.headers,
      ...(masked > 0 ? { [DLQ.masked]: String(masked) } : {}),
      [DLQ.code]: code,
      [DLQ.reason]: reason.slice(0, 2000),
      [DLQ.source]: `${record.topic}:${record.partition}:${record.offset}`,
      [DLQ.consumer]: consumer,
      [DLQ.at]: new Date(now).toISOString(),
    },
  };
}
