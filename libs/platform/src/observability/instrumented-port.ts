import { Topic, topicName } from '@warden/contracts';
import {
  BrokerAcl,
  ConsumeOptions,
  ConsumerHandle,
  KafkaPort,
  Published,
  RecordOut,
  TopicSpec,
  Watermark,
} from '../kafka/port';
import { DLQ } from '../runtime/dead-letter';
import { Metrics } from './metrics';

/**
 * A KafkaPort that measures what every consumer and publisher of a service does, whatever kind it
 * is (processor, table, projection, reactor): the lag of each consumer group on each partition it
 * handles, and the dead letters it publishes, by reason code. Lag is the partition's high
 * watermark (asked of the broker at each scrape) minus the offset after the last record the
 * consumer handled there, so a consumer that stopped moving shows a growing lag.
 */
export class InstrumentedPort implements KafkaPort {
  /** group -> topic -> partition -> next offset to handle. */
  private readonly positions = new Map<string, Map<string, Map<number, bigint>>>();
  private readonly deadLetterTopic: string;

  constructor(
    private readonly inner: KafkaPort,
    private readonly metrics: Metrics,
    private readonly prefix: string,
  ) {
    this.deadLetterTopic = topicName(prefix, Topic.deadLetter);
    metrics.lagSource(() => this.lag());
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  async publish(records: readonly RecordOut[]): Promise<Published[]> {
    const published = await this.inner.publish(records);
    for (const r of records) {
      if (r.topic !== this.deadLetterTopic) continue;
      const source = r.headers[DLQ.source] ?? '';
      this.metrics.deadLetters.inc({
        consumer: r.headers[DLQ.consumer] ?? 'unknown',
        topic: this.unprefixed(source.replace(/:\d+:\d+$/, '')),
        code: r.headers[DLQ.code] ?? 'unknown',
      });
    }
    return published;
  }

  async consume(options: ConsumeOptions): Promise<ConsumerHandle> {
    const group = new Map<string, Map<number, bigint>>();
    this.positions.set(options.groupId, group);
    const handle = await this.inner.consume({
      ...options,
      onAssigned: (assignment) => {
        const kept = new Map(assignment.map((a) => [a.topic, new Set(a.partitions)]));
        for (const [topic, partitions] of group) {
          for (const p of partitions.keys()) if (!kept.get(topic)?.has(p)) partitions.delete(p);
        }
        options.onAssigned?.(assignment);
      },
      onBatch: async (topic, partition, records, control) => {
        const last = await options.onBatch(topic, partition, records, control);
        if (last !== undefined) {
          let partitions = group.get(topic);
          if (!partitions) group.set(topic, (partitions = new Map()));
          partitions.set(partition, BigInt(last) + 1n);
        }
        return last;
      },
    });
    return {
      groupId: handle.groupId,
      stop: async () => {
        await handle.stop();
        this.positions.delete(options.groupId);
      },
    };
  }

  watermarks(topic: string): Promise<Watermark[]> {
    return this.inner.watermarks(topic);
  }

  ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    return this.inner.ensureTopics(specs);
  }

  grant(principal: string, acls: readonly BrokerAcl[]): Promise<void> {
    return this.inner.grant(principal, acls);
  }

  deleteGroups(groupIds: readonly string[]): Promise<void> {
    return this.inner.deleteGroups(groupIds);
  }

  healthy(): boolean {
    return this.inner.healthy();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private unprefixed(topic: string): string {
    return topic.startsWith(this.prefix) ? topic.slice(this.prefix.length) : topic;
  }

  /** Lag of every (group, topic, partition) this process handles; watermarks asked once per topic. */
  private async lag(): Promise<{ group: string; topic: string; partition: number; lag: number }[]> {
    const topics = new Set<string>();
    for (const group of this.positions.values()) for (const [topic, ps] of group) if (ps.size > 0) topics.add(topic);
    const high = new Map<string, Map<number, bigint>>();
    await Promise.all(
      [...topics].map(async (topic) => {
        try {
          const marks = await this.inner.watermarks(topic);
          high.set(topic, new Map(marks.map((m) => [m.partition, BigInt(m.high)])));
        } catch {
          // The broker did not answer: no lag sample for this topic in this scrape.
        }
      }),
    );
    const out: { group: string; topic: string; partition: number; lag: number }[] = [];
    for (const [group, topicsOfGroup] of this.positions) {
      for (const [topic, partitions] of topicsOfGroup) {
        for (const [partition, next] of partitions) {
          const hw = high.get(topic)?.get(partition);
          if (hw === undefined) continue;
          const lag = hw > next ? Number(hw - next) : 0;
          out.push({ group: this.unprefixed(group), topic: this.unprefixed(topic), partition, lag });
        }
      }
    }
    return out;
  }
}
