import { Envelope, encode, Message, TopicName, topicName } from '@warden/contracts';
import { RecordOut } from '../kafka/port';
import { currentTraceHeaders } from '../observability/tracing';

/** Where an event goes and the envelope attributes it carries. */
export interface Route {
  readonly topic: TopicName;
  readonly key: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly runId: string;
  /**
   * Publish to the partition of `key` (a repartition, e.g. to a stage keyed by tenant) instead of
   * the input's partition. Only for topics that are not the processor's outputs (its changelog).
   */
  readonly byKey?: boolean;
}

export const SOURCE_HEADER = 'warden_src';

/** Builds the Kafka record of one event, with the active trace context and its source. */
export function toRecord(
  prefix: string,
  source: string,
  id: string,
  time: number,
  event: Message,
  route: Route,
  extraHeaders: Record<string, string> = {},
  partition?: number,
): RecordOut {
  const trace = currentTraceHeaders();
  const envelope: Envelope = {
    id,
    type: event.$typeName,
    source,
    time,
    key: route.key,
    tenantId: route.tenantId,
    agentId: route.agentId,
    runId: route.runId,
    traceparent: trace.traceparent,
    tracestate: trace.tracestate,
    data: event,
  };
  const wire = encode(envelope);
  return {
    topic: topicName(prefix, route.topic),
    key: wire.key,
    value: wire.value,
    headers: { ...wire.headers, ...extraHeaders },
    partition,
  };
}
