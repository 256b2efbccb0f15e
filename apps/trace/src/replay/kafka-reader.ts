import { decode, Envelope, TopicName, topicName } from '@warden/contracts';
import { readToEnd, RecordIn, ServiceRuntime } from '@warden/platform';

/** An event read back from a topic, with where it was. */
export interface ReadEvent {
  readonly topic: TopicName;
  readonly partition: number;
  readonly offset: number;
  readonly event: Envelope;
}

/**
 * Reads topics from Kafka, from the beginning to the end seen when the read starts, keeping
 * the events `keep` accepts. Records that do not decode are skipped (and counted): the
 * projections have dead-lettered them already.
 */
export async function readEvents(
  runtime: ServiceRuntime,
  topics: readonly TopicName[],
  keep: (topic: TopicName, record: RecordIn) => boolean,
): Promise<{ events: ReadEvent[]; skipped: number; partitions: Map<TopicName, number> }> {
  const { port, prefix } = runtime;
  const events: ReadEvent[] = [];
  const partitions = new Map<TopicName, number>();
  let skipped = 0;
  const byName = new Map(topics.map((t) => [topicName(prefix, t), t]));
  for (const [name, topic] of byName) partitions.set(topic, (await port.watermarks(name)).length);
  await readToEnd(port, `${prefix}trace.replay`, [...byName.keys()], 'all', (record) => {
    const topic = byName.get(record.topic)!;
    if (!keep(topic, record)) return;
    try {
      events.push({ topic, partition: record.partition, offset: Number(record.offset), event: decode(topic, record) });
    } catch {
      skipped += 1;
    }
  });
  return { events, skipped, partitions };
}

/** Events in the order of their partition offsets, partitions in turn (the order one reader applies them). */
export function inPartitionOrder(events: readonly ReadEvent[]): ReadEvent[] {
  return [...events].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

/**
 * Events in the order a table reading every partition applied them, as far as it can be known
 * afterwards: by event time, then partition and offset (docs/adr/0062).
 */
export function inTimeOrder(events: readonly ReadEvent[]): ReadEvent[] {
  return [...events].sort((a, b) => a.event.time - b.event.time || a.partition - b.partition || a.offset - b.offset);
}
