import { randomUUID } from 'node:crypto';
import { decode, Envelope, TopicName } from '@warden/contracts';
import { Decider } from '@warden/kernel';
import { AuthorityVerifier, forgedCode } from '../crypto/authority';
import { ConsumerHandle, KafkaPort, RecordIn, RecordOut } from '../kafka/port';
import { deadLetter } from './dead-letter';
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
  /**
   * For a table over busy topics that may lag a little (e.g. activity folded from every decision):
   * let the broker gather records for up to `maxWaitMs`. Tables the gate must see promptly (kill
   * switches, the registry) leave it unset. Tables with the same batching share one reader.
   */
  readonly batching?: { readonly minBytes: number; readonly maxWaitMs: number };
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
  private caughtUpPromise: Promise<void> | undefined;
  private isCaughtUp = false;
  private applied = 0;
  private readonly log: Logger;

  constructor(
    private readonly def: TableDefinition<S>,
    private readonly prefix: string,
    logger: Logger,
    private readonly authority?: AuthorityVerifier,
    private readonly deadLetters = true,
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

  get batching(): TableDefinition<S>['batching'] {
    return this.def.batching;
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

  /** The prefixed topics the table folds. */
  get topicNames(): readonly string[] {
    return this.def.topics.map((t) => this.prefix + t);
  }

  /**
   * Sets what "caught up" means: everything the topics held at start (their high watermarks).
   * Called by the reader before it consumes.
   */
  prepare(watermarks: ReadonlyMap<string, readonly { partition: number; low: string; high: string }[]>): void {
    const targets: { key: string; offset: number }[] = [];
    for (const topic of this.topicNames) {
      for (const wm of watermarks.get(topic) ?? []) {
        if (Number(wm.high) > Number(wm.low))
          targets.push({ key: `${topic}:${wm.partition}`, offset: Number(wm.high) - 1 });
      }
    }
    this.caughtUpPromise = Promise.all(targets.map((t) => this.waitForKey(t.key, t.offset))).then(() => {
      this.isCaughtUp = true;
      this.log.info('table caught up', { events: this.applied });
    });
  }

  /**
   * Folds a batch of one partition of one of its topics (the reader hands it over). Returns the
   * dead letters of records refused as forged (docs/adr/0118) once the table is caught up: what it
   * meets while catching up at start was dead-lettered when it was new.
   */
  apply(topic: string, partition: number, records: readonly RecordIn[]): RecordOut[] {
    const dead: RecordOut[] = [];
    const name = topic.slice(this.prefix.length) as TopicName;
    const key = `${topic}:${partition}`;
    // After a rejoin (no committed offsets) the group restarts from the beginning: skip what was applied.
    const applied = this.appliedOffsets.get(key) ?? -1;
    for (const record of records) {
      if (Number(record.offset) <= applied) continue;
      if (this.def.skip?.(record.headers)) continue;
      const verdict = this.authority?.check(name, record);
      if (verdict && !verdict.ok) {
        const code = forgedCode(verdict.code);
        this.log.warn('refusing forged record', {
          topic,
          partition,
          offset: record.offset,
          code,
          reason: verdict.reason,
        });
        if (this.isCaughtUp && this.deadLetters)
          dead.push(deadLetter(this.prefix, this.def.name, record, code, verdict.reason, Date.now()));
        continue;
      }
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
    return dead;
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

/**
 * One consumer for all the tables of a service instance (issue 16: one consumer per kind): a group
 * of its own, so it is assigned every partition of the union of their topics, handing each batch
 * to the tables that fold its topic. Fewer consumers, fetches and heartbeats than one per table;
 * a topic several tables fold (registry.events) is fetched and decoded from the wire once.
 */
export class TableReader {
  private handle: ConsumerHandle | undefined;

  constructor(
    private readonly tables: readonly Table<unknown>[],
    private readonly port: KafkaPort,
    private readonly name: string,
    private readonly instanceId: string,
    private readonly batching?: { readonly minBytes: number; readonly maxWaitMs: number },
  ) {}

  async start(): Promise<void> {
    if (this.tables.length === 0) return;
    const topics = [...new Set(this.tables.flatMap((t) => t.topicNames))];
    const watermarks = new Map(await Promise.all(topics.map(async (t) => [t, await this.port.watermarks(t)] as const)));
    for (const table of this.tables) table.prepare(watermarks);
    const byTopic = new Map(topics.map((t) => [t, this.tables.filter((table) => table.topicNames.includes(t))]));
    this.handle = await this.port.consume({
      groupId: `${this.name}.tables.${this.instanceId}.${randomUUID().slice(0, 8)}`,
      topics,
      fromBeginning: true,
      commitOffsets: false,
      concurrency: 4,
      batching: this.batching,
      onBatch: async (topic, partition, records) => {
        const dead = (byTopic.get(topic) ?? []).flatMap((table) => table.apply(topic, partition, records));
        if (dead.length > 0) await this.port.publish(dead);
        return records.at(-1)?.offset;
      },
    });
  }

  async stop(): Promise<void> {
    const groupId = this.handle?.groupId;
    await this.handle?.stop();
    this.handle = undefined;
    if (groupId) await this.port.deleteGroups([groupId]);
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
