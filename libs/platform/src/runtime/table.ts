import { randomUUID } from 'node:crypto';
import { decode, Envelope, TopicName } from '@warden/contracts';
import { Decider } from '@warden/kernel';
import { ConsumerHandle, KafkaPort } from '../kafka/port';
import { Logger } from '../observability/logger';

/** How far a table has read one topic: per partition (by index), the offset after the last event applied. */
export interface TablePosition {
  readonly topic: string;
  readonly nextOffsets: readonly number[];
}

export interface TableDefinition<S> {
  readonly name: string;
  readonly topics: readonly TopicName[];
  readonly initial: () => S;
  /** Folds one event into the state. Returning the same object means the event was rejected. */
  evolve(state: S, event: Envelope): S;
  /** Records to pass over without decoding, judged from their headers (e.g. types the fold ignores on a busy topic). */
  skip?(headers: Readonly<Record<string, string>>): boolean;
}

/**
 * A table: state folded from every partition of some topics, read by every instance (like a
 * Kafka Streams GlobalKTable). Kill switches and the registry reach the gate this way, so the
 * hot path never calls another service or Postgres.
 */
export class Table<S> {
  private current: S;
  /** Last applied offset per `topic:partition` (prefixed topic). */
  private readonly appliedOffsets = new Map<string, number>();
  private positionsCache: readonly TablePosition[] | undefined;
  private positionsAt = -1;
  private readonly waiters: { key: string; offset: number; resolve: () => void }[] = [];
  private readonly rejectedIds = new Set<string>();
  private handle: ConsumerHandle | undefined;
  private caughtUpPromise: Promise<void> | undefined;
  private isCaughtUp = false;
  private applied = 0;
  private readonly log: Logger;

  constructor(
    private readonly def: TableDefinition<S>,
    private readonly port: KafkaPort,
    private readonly prefix: string,
    private readonly instanceId: string,
    logger: Logger,
  ) {
    this.current = def.initial();
    this.log = logger.child({ table: def.name });
  }

  get state(): S {
    return this.current;
  }

  get ready(): boolean {
    return this.isCaughtUp;
  }

  get name(): string {
    return this.def.name;
  }

  /** Number of events applied: a monotonic version of this table, recorded in decisions. */
  get version(): number {
    return this.applied;
  }

  /**
   * How far the table has read each of its topics (names without the prefix), sorted by topic:
   * for each partition, by index, the offset after the last event applied. Recorded in decisions
   * so replay can apply exactly those events; rebuilt only after the table changed.
   */
  get positions(): readonly TablePosition[] {
    if (this.positionsAt !== this.applied || !this.positionsCache) {
      const byTopic = new Map<string, number[]>();
      for (const [key, offset] of this.appliedOffsets) {
        const cut = key.lastIndexOf(':');
        const topic = key.slice(this.prefix.length, cut);
        const next = byTopic.get(topic) ?? [];
        const partition = Number(key.slice(cut + 1));
        while (next.length <= partition) next.push(0);
        next[partition] = offset + 1;
        byTopic.set(topic, next);
      }
      this.positionsCache = [...byTopic]
        .map(([topic, nextOffsets]) => ({ topic, nextOffsets }))
        .sort((a, b) => a.topic.localeCompare(b.topic));
      this.positionsAt = this.applied;
    }
    return this.positionsCache;
  }

  async start(): Promise<void> {
    const topics = this.def.topics.map((t) => this.prefix + t);
    const targets: { key: string; offset: number }[] = [];
    for (const topic of topics) {
      for (const wm of await this.port.watermarks(topic)) {
        if (Number(wm.high) > Number(wm.low))
          targets.push({ key: `${topic}:${wm.partition}`, offset: Number(wm.high) - 1 });
      }
    }
    this.caughtUpPromise = Promise.all(targets.map((t) => this.waitForKey(t.key, t.offset))).then(() => {
      this.isCaughtUp = true;
      this.log.info('table caught up', { events: this.applied });
    });
    this.handle = await this.port.consume({
      groupId: `${this.prefix}${this.def.name}.table.${this.instanceId}.${randomUUID().slice(0, 8)}`,
      topics,
      fromBeginning: true,
      commitOffsets: false,
      concurrency: 4,
      onBatch: async (topic, partition, records) => {
        const name = topic.slice(this.prefix.length) as TopicName;
        const key = `${topic}:${partition}`;
        // After a rejoin (no committed offsets) the group restarts from the beginning: skip what was applied.
        const applied = this.appliedOffsets.get(key) ?? -1;
        for (const record of records) {
          if (Number(record.offset) <= applied) continue;
          if (this.def.skip?.(record.headers)) continue;
          try {
            const envelope = decode(name, record);
            const next = this.def.evolve(this.current, envelope);
            if (next === this.current) this.rejectedIds.add(envelope.id);
            this.current = next;
            this.applied += 1;
          } catch (error) {
            // The owning service dead-letters bad records; every table reader just skips them.
            this.log.warn('skipping bad record', {
              topic,
              partition,
              offset: record.offset,
              error: (error as Error).message,
            });
          }
        }
        const last = records.at(-1);
        if (last && Number(last.offset) > applied) this.advance(key, Number(last.offset));
        return last?.offset;
      },
    });
  }

  /** Resolves once the table has applied everything that was in Kafka when it started. */
  caughtUp(): Promise<void> {
    if (!this.caughtUpPromise) throw new Error(`table ${this.def.name} was not started`);
    return this.caughtUpPromise;
  }

  /** Resolves once the record at `offset` of `topic:partition` (prefixed topic) was applied. */
  waitFor(topic: string, partition: number, offset: number): Promise<void> {
    return this.waitForKey(`${topic}:${partition}`, offset);
  }

  /** Whether an applied event was rejected by `evolve` (e.g. a stale version). */
  wasRejected(eventId: string): boolean {
    return this.rejectedIds.has(eventId);
  }

  async stop(): Promise<void> {
    const groupId = this.handle?.groupId;
    await this.handle?.stop();
    if (groupId) await this.port.deleteGroups([groupId]);
  }

  private waitForKey(key: string, offset: number): Promise<void> {
    if ((this.appliedOffsets.get(key) ?? -1) >= offset) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ key, offset, resolve }));
  }

  private advance(key: string, offset: number): void {
    this.appliedOffsets.set(key, offset);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w.key === key && w.offset <= offset) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}

/** A table of decider states, one per stream (the record key). */
export function streamTable<S, E>(
  name: string,
  topics: readonly TopicName[],
  decider: Pick<Decider<unknown, S, E>, 'evolve' | 'initialState'>,
): TableDefinition<Map<string, S>> {
  return {
    name,
    topics,
    initial: () => new Map(),
    evolve(streams, event) {
      const before = streams.get(event.key) ?? decider.initialState;
      const after = decider.evolve(before, event.data as E);
      if (after === before) return streams;
      const next = new Map(streams);
      next.set(event.key, after);
      return next;
    },
  };
}
