import { DescMessage, fromBinary, fromJsonString, Message, toBinary, toJsonString } from '@bufbuild/protobuf';
import { decodeAgentJson, refuseUnknownFields } from './agent-json';
import { isAllowedOn, typeRegistry } from './catalog';
import { Topic, TopicName } from './topics';

/** Topics agents write to (and the budget stage's reroute of them): decoded strictly, see agent-json.ts. */
export const AGENT_FACING: ReadonlySet<TopicName> = new Set([
  Topic.gateRequests,
  Topic.gateOutcomes,
  Topic.gateRerouted,
]);

/**
 * The envelope: CloudEvents 1.0 in Kafka binary mode. Attributes travel as `ce_` headers,
 * the data as the record value (protobuf, or protobuf-JSON on agent-facing topics), the
 * stream id as the record key. W3C trace context travels as `traceparent`/`tracestate`, and
 * tenant, agent and run ids as the `ce_tenantid`, `ce_agentid`, `ce_runid` extensions.
 */
export interface Envelope<M extends Message = Message> {
  readonly id: string;
  /** The CloudEvents type: the protobuf full name, e.g. `warden.gate.v1.GateRequested`. */
  readonly type: string;
  readonly source: string;
  /** Event time in epoch milliseconds (`ce_time` on the wire is RFC 3339). */
  readonly time: number;
  readonly key: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly runId: string;
  readonly traceparent?: string;
  readonly tracestate?: string;
  readonly data: M;
  /** The record's headers, when the envelope was decoded from one (e.g. for the reply encoding an agent asked for). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type ContentType = 'application/protobuf' | 'application/json';

export interface WireRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

export const CE = {
  specversion: 'ce_specversion',
  id: 'ce_id',
  source: 'ce_source',
  type: 'ce_type',
  time: 'ce_time',
  tenant: 'ce_tenantid',
  agent: 'ce_agentid',
  run: 'ce_runid',
  contentType: 'content-type',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/** Why a record could not be turned into an envelope; becomes the dead-letter reason. */
export class EnvelopeError extends Error {
  constructor(
    readonly code:
      | 'missing_header'
      | 'unsupported_specversion'
      | 'unknown_type'
      | 'type_not_allowed_on_topic'
      | 'unsupported_content_type'
      | 'undecodable_data'
      | 'unknown_field'
      | 'invalid_value',
    message: string,
    /** The field at fault (its protobuf-JSON name, dotted for nested fields), where one can be named. */
    readonly field = '',
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export function encode(envelope: Envelope, contentType: ContentType = 'application/protobuf'): WireRecord {
  const schema = schemaOf(envelope.type);
  const value =
    contentType === 'application/json'
      ? Buffer.from(toJsonString(schema, envelope.data, { registry: typeRegistry }))
      : Buffer.from(toBinary(schema, envelope.data));
  const headers: Record<string, string> = {
    [CE.specversion]: '1.0',
    [CE.id]: envelope.id,
    [CE.source]: envelope.source,
    [CE.type]: envelope.type,
    [CE.time]: new Date(envelope.time).toISOString(),
    [CE.contentType]: contentType,
    [CE.tenant]: envelope.tenantId,
    [CE.agent]: envelope.agentId,
    [CE.run]: envelope.runId,
  };
  if (envelope.traceparent) headers[CE.traceparent] = envelope.traceparent;
  if (envelope.tracestate) headers[CE.tracestate] = envelope.tracestate;
  return { key: envelope.key, value, headers };
}

/** Decodes a record read from `topic`; throws EnvelopeError with the reason when it can't. */
export function decode(
  topic: TopicName,
  record: { key: string | null; value: Buffer | null; headers: Record<string, string> },
): Envelope {
  const h = record.headers;
  const need = (name: string): string => {
    const v = h[name];
    if (v === undefined || v === '') throw new EnvelopeError('missing_header', `header ${name} is missing`);
    return v;
  };
  if (need(CE.specversion) !== '1.0') {
    throw new EnvelopeError('unsupported_specversion', `ce_specversion ${h[CE.specversion]} is not 1.0`);
  }
  const type = need(CE.type);
  const schema = typeRegistry.getMessage(type);
  if (!schema) throw new EnvelopeError('unknown_type', `unknown event type ${type}`);
  if (!isAllowedOn(topic, type)) {
    throw new EnvelopeError('type_not_allowed_on_topic', `event type ${type} does not belong on ${topic}`);
  }
  const contentType = (h[CE.contentType] ?? 'application/protobuf').split(';')[0].trim();
  const value = record.value ?? Buffer.alloc(0);
  let data: Message;
  try {
    if (contentType === 'application/protobuf' || contentType === 'application/x-protobuf') {
      data = fromBinary(schema, value);
      if (AGENT_FACING.has(topic)) refuseUnknownFields(data, '');
    } else if (contentType === 'application/json') {
      data = AGENT_FACING.has(topic)
        ? decodeAgentJson(schema, value)
        : fromJsonString(schema, value.toString('utf8'), { registry: typeRegistry });
    } else {
      throw new EnvelopeError('unsupported_content_type', `content-type ${contentType} is not supported`);
    }
  } catch (error) {
    if (error instanceof EnvelopeError) throw error;
    throw new EnvelopeError(
      'undecodable_data',
      `${type} could not be decoded as ${contentType}: ${(error as Error).message}`,
    );
  }
  const time = Date.parse(h[CE.time] ?? '');
  return {
    id: need(CE.id),
    type,
    source: need(CE.source),
    time: Number.isNaN(time) ? 0 : time,
    key: record.key ?? '',
    tenantId: h[CE.tenant] ?? '',
    agentId: h[CE.agent] ?? '',
    runId: h[CE.run] ?? '',
    traceparent: h[CE.traceparent],
    tracestate: h[CE.tracestate],
    data,
    headers: h,
  };
}

/** The header an agent sets on a gate request to ask for its replies in another encoding than the request's. */
export const REPLY_CONTENT_TYPE_HEADER = 'warden-reply-content-type';

/** How replies to a record are encoded: as it asks, else as it was encoded (docs/protocol.md). */
export function replyContentTypeOf(headers: Readonly<Record<string, string>>): ContentType {
  const asked = headers[REPLY_CONTENT_TYPE_HEADER] ?? headers[CE.contentType] ?? '';
  return asked.split(';')[0].trim() === 'application/json' ? 'application/json' : 'application/protobuf';
}

function schemaOf(type: string): DescMessage {
  const schema = typeRegistry.getMessage(type);
  if (!schema) throw new EnvelopeError('unknown_type', `unknown event type ${type}`);
  return schema;
}

/** Narrowing helper: `is(env, GateRequestedSchema)` tells TypeScript the data's type. */
export function is<D extends DescMessage>(
  envelope: Envelope,
  schema: D,
): envelope is Envelope<import('@bufbuild/protobuf').MessageShape<D>> {
  return envelope.type === schema.typeName;
}
