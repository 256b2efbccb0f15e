import { decode, Envelope, EnvelopeError, Message, TopicName } from '@warden/contracts';
import { Decider, DomainError, fold } from '@warden/kernel';
import { KafkaPort, RecordIn, RecordOut } from '../kafka/port';
import { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { inSpanFromHeaders } from '../observability/tracing';
import { readToEnd } from './changelog';
import { deadLetter } from './dead-letter';
import { deterministicId } from './ids';
import { Route, SOURCE_HEADER, toRecord } from './publish';
import { Serial } from './serial';

/** What the runtime hands to a definition when it turns an input into a command. */
export interface ProcessorContext {
  /** Wall-clock time at handling; goes into the command so `decide` stays pure. */
  readonly now: number;
  readonly partition: number;
  /** The n-th id this input needs; deterministic, so a re-run yields the same ids. */
  id(n?: number): string;
}

/** Something the processor must see caught up before it handles any input. */
export interface CatchesUp {
  caughtUp(): Promise<void>;
}

/**
 * A processor: consume co-partitioned input topics, turn each input into a command, decide,
 * publish the events on the same partition of the output topics, keep state in memory.
 * State is the fold of the processor's own output (its changelog), rebuilt from Kafka for
 * every partition it is assigned; inputs already reflected in the changelog are skipped.
 */
export interface ProcessorDefinition<C, S, E extends Message> {
  readonly name: string;
  readonly inputs: readonly TopicName[];
  readonly outputs: readonly TopicName[];
  readonly decider: Decider<C, S, E>;
  /** The input as a command, or null to ignore it. A DomainError sends the input to the dead-letter topic. */
  command(input: Envelope, context: ProcessorContext): C | null;
  /**
   * Where an event goes. Its key must be the stream id (the input's key) to stay co-partitioned,
   * unless the route says `byKey` (a topic outside `outputs`, partitioned by its own key).
   */
  route(event: E, input: Envelope): Route;
  readonly tables?: readonly CatchesUp[];
  /**
   * Inputs to ignore without decoding them, judged from the record's headers (CloudEvents
   * `ce_type`, `ce_tenantid`, ...) and the processor's tables: for a processor that acts on few
   * of the records of a busy topic. What it skips is counted as ignored, never dead-lettered.
   */
  skip?(headers: Readonly<Record<string, string>>): boolean;
  /**
   * Off the gate's path (reactions a person or an orchestrator waits for, not an agent), let the
   * broker gather inputs for up to `maxWaitMs`: fewer, bigger fetches. Default: each input at once.
   */
  readonly batching?: { readonly minBytes: number; readonly maxWaitMs: number };
  /**
   * Called for each event once it is on Kafka, with the input it answers and the time its
   * batch was acknowledged: for metrics of the service (e.g. the gate's decision latency).
   */
  observe?(event: E, input: Envelope, publishedAtMs: number): void;
}

/** Batching for processors off the gate's path: at most 50 ms later, far fewer fetches under load. */
export const OFF_GATE_PATH = { minBytes: 64 * 1024, maxWaitMs: 50 } as const;

export interface RuntimeDeps {
  readonly port: KafkaPort;
  readonly prefix: string;
  readonly service: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly partitionsConcurrency: number;
}

interface PartitionState<S> {
  readonly generation: number;
  readonly streams: Map<string, S>;
  /** Highest input offset already reflected in the changelog, per `topic:partition`. */
  readonly processed: Map<string, number>;
}

export type ConsumerStatus = 'starting' | 'rebuilding' | 'running' | 'stopped' | 'crashed';

export class Processor<C, S, E extends Message> {
  private readonly partitions = new Map<number, PartitionState<S>>();
  private readonly serial = new Serial();
  private readonly log: Logger;
  private generation = 0;
  private assigned = new Set<number>();
  private rebuild: { generation: number; done: Promise<void> } | undefined;
  private handle: { stop(): Promise<void> } | undefined;
  private state: ConsumerStatus = 'starting';
  private tablesReady = false;

  constructor(
    private readonly def: ProcessorDefinition<C, S, E>,
    private readonly deps: RuntimeDeps,
  ) {
    this.log = deps.logger.child({ consumer: def.name });
  }

  get name(): string {
    return this.def.name;
  }

  get status(): ConsumerStatus {
    return this.state;
  }

  get ready(): boolean {
    return this.state === 'running' && this.tablesReady;
  }

  async start(): Promise<void> {
    const { port, prefix } = this.deps;
    this.handle = await port.consume({
      groupId: `${prefix}${this.def.name}`,
      topics: this.def.inputs.map((t) => prefix + t),
      fromBeginning: true,
      commitOffsets: true,
      concurrency: this.deps.partitionsConcurrency,
      batching: this.def.batching,
      onAssigned: (assignment) => {
        this.generation += 1;
        this.assigned = new Set(assignment.flatMap((a) => a.partitions));
        for (const p of [...this.partitions.keys()]) if (!this.assigned.has(p)) this.partitions.delete(p);
        this.log.info('partitions assigned', { generation: this.generation, partitions: [...this.assigned] });
      },
      onCrash: (error) => {
        this.state = 'crashed';
        this.deps.metrics.consumerState.set({ consumer: this.def.name }, 0);
        this.log.error('consumer crashed', { error });
      },
      onBatch: (topic, partition, records, control) =>
        this.serial.run(partition, async () => {
          await this.whileHeartbeating(control.heartbeat, () => this.prepare(partition));
          if (!control.isActive()) return undefined;
          return this.handleBatch(topic, partition, records);
        }),
    });
    if (this.state === 'starting') this.state = 'running';
    void this.waitForTables();
  }

  async stop(): Promise<void> {
    await this.handle?.stop();
    this.state = 'stopped';
    this.deps.metrics.consumerState.set({ consumer: this.def.name }, 0);
  }

  /** The state of every stream on the partitions this instance owns (for gauges of the service). */
  *states(): Generator<S> {
    for (const ps of this.partitions.values()) yield* ps.streams.values();
  }

  /** The state of one stream, when this instance owns its partition (for tests and queries). */
  peek(stream: string): S | undefined {
    for (const ps of this.partitions.values()) {
      const s = ps.streams.get(stream);
      if (s !== undefined) return s;
    }
    return undefined;
  }

  private async waitForTables(): Promise<void> {
    await Promise.all((this.def.tables ?? []).map((t) => t.caughtUp()));
    this.tablesReady = true;
    if (this.state === 'running') this.deps.metrics.consumerState.set({ consumer: this.def.name }, 1);
  }

  private async prepare(partition: number): Promise<PartitionState<S>> {
    for (const table of this.def.tables ?? []) await table.caughtUp();
    for (;;) {
      const current = this.partitions.get(partition);
      if (current && current.generation === this.generation) return current;
      if (!this.rebuild || this.rebuild.generation !== this.generation) {
        const generation = this.generation;
        this.rebuild = { generation, done: this.rebuildAssigned(generation) };
      }
      await this.rebuild.done;
      if (!this.assigned.has(partition)) {
        // Revoked while rebuilding: hand back an empty state; the batch will not be active.
        return { generation: -1, streams: new Map(), processed: new Map() };
      }
    }
  }

  private async rebuildAssigned(generation: number): Promise<void> {
    const wanted = new Set(this.assigned);
    const started = process.hrtime.bigint();
    this.state = this.state === 'crashed' ? 'crashed' : 'rebuilding';
    const fresh = new Map<number, PartitionState<S>>();
    for (const p of wanted) fresh.set(p, { generation, streams: new Map(), processed: new Map() });
    const outputs = this.def.outputs.map((t) => this.deps.prefix + t);
    let events = 0;
    await readToEnd(this.deps.port, `${this.deps.prefix}${this.def.name}`, outputs, wanted, (record) => {
      const ps = fresh.get(record.partition);
      if (!ps) return;
      let envelope: Envelope;
      try {
        envelope = decode(record.topic.slice(this.deps.prefix.length) as TopicName, record);
      } catch (error) {
        this.log.warn('skipping undecodable changelog record', { topic: record.topic, offset: record.offset, error });
        return;
      }
      const stream = record.key ?? '';
      const s = ps.streams.get(stream) ?? this.def.decider.initialState;
      ps.streams.set(stream, this.def.decider.evolve(s, envelope.data as E));
      const src = record.headers[SOURCE_HEADER];
      if (src) {
        const cut = src.lastIndexOf(':');
        const key = src.slice(0, cut);
        const offset = Number(src.slice(cut + 1));
        if (offset > (ps.processed.get(key) ?? -1)) ps.processed.set(key, offset);
      }
      events += 1;
    });
    if (this.generation === generation) {
      for (const [p, ps] of fresh) this.partitions.set(p, ps);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.deps.metrics.rebuildSeconds.observe({ consumer: this.def.name }, seconds);
    this.log.info('state rebuilt from changelog', { generation, partitions: [...wanted], events, seconds });
    if (this.state === 'rebuilding') this.state = 'running';
  }

  private async handleBatch(
    topic: string,
    partition: number,
    records: readonly RecordIn[],
  ): Promise<string | undefined> {
    const { prefix, metrics, port } = this.deps;
    const ps = this.partitions.get(partition);
    if (!ps || ps.generation !== this.generation) return undefined;
    const timer = metrics.handleSeconds.startTimer({ consumer: this.def.name });
    const inputTopic = topic.slice(prefix.length) as TopicName;
    const sourceKey = `${topic}:${partition}`;
    const out: RecordOut[] = [];
    const observed: { event: E; input: Envelope }[] = [];
    let last: string | undefined;
    for (const record of records) {
      const offset = Number(record.offset);
      last = record.offset;
      if (offset <= (ps.processed.get(sourceKey) ?? -1)) {
        metrics.messages.inc({ consumer: this.def.name, topic: inputTopic, outcome: 'duplicate' });
        continue;
      }
      ps.processed.set(sourceKey, offset);
      if (this.def.skip?.(record.headers)) {
        metrics.messages.inc({ consumer: this.def.name, topic: inputTopic, outcome: 'ignored' });
        continue;
      }
      const now = Date.now();
      let input: Envelope;
      try {
        input = decode(inputTopic, record);
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        out.push(this.rejected(record, error.code, error.message, now));
        continue;
      }
      try {
        const produced = inSpanFromHeaders(
          `${this.def.name} process`,
          record.headers,
          { 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'cloudevents.event_type': input.type },
          () => this.decideOne(input, record, ps, now, observed),
        );
        out.push(...produced);
        metrics.messages.inc({
          consumer: this.def.name,
          topic: inputTopic,
          outcome: produced.length ? 'handled' : 'ignored',
        });
      } catch (error) {
        if (error instanceof DomainError) {
          out.push(this.rejected(record, `${error.kind}:${error.code}`, error.message, now));
        } else {
          this.log.error('handler failed; dead-lettering the input', { topic, offset: record.offset, error });
          out.push(this.rejected(record, 'handler_error', (error as Error).message, now));
        }
      }
    }
    try {
      await port.publish(out);
    } catch (error) {
      // State already moved past what reached Kafka: forget it and rebuild before retrying.
      this.partitions.delete(partition);
      throw error;
    } finally {
      timer();
    }
    for (const r of out) metrics.published.inc({ topic: r.topic });
    const publishedAt = Date.now();
    for (const o of observed) this.def.observe?.(o.event, o.input, publishedAt);
    return last;
  }

  private decideOne(
    input: Envelope,
    record: RecordIn,
    ps: PartitionState<S>,
    now: number,
    observed: { event: E; input: Envelope }[],
  ): RecordOut[] {
    const context: ProcessorContext = {
      now,
      partition: record.partition,
      id: (n = 0) => deterministicId(this.def.name, record.topic, record.partition, record.offset, n),
    };
    const command = this.def.command(input, context);
    if (command === null) return [];
    const stream = record.key ?? '';
    const state = ps.streams.get(stream) ?? this.def.decider.initialState;
    const events = this.def.decider.decide(command, state);
    if (events.length === 0) return [];
    ps.streams.set(stream, fold(this.def.decider.evolve, state, events));
    if (this.def.observe) for (const event of events) observed.push({ event, input });
    const src = { [SOURCE_HEADER]: `${record.topic}:${record.partition}:${record.offset}` };
    return events.map((event, i) => {
      const route = this.def.route(event, input);
      return toRecord(
        this.deps.prefix,
        `warden://${this.deps.service}/${this.def.name}`,
        deterministicId(this.def.name, 'event', record.topic, record.partition, record.offset, i),
        now,
        event,
        route,
        src,
        route.byKey ? undefined : record.partition,
      );
    });
  }

  private rejected(record: RecordIn, code: string, reason: string, now: number): RecordOut {
    this.deps.metrics.messages.inc({
      consumer: this.def.name,
      topic: record.topic.slice(this.deps.prefix.length),
      outcome: 'dead_lettered',
    });
    this.log.warn('dead-lettered', {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      code,
      reason,
    });
    return deadLetter(this.deps.prefix, this.def.name, record, code, reason, now);
  }

  private async whileHeartbeating<T>(heartbeat: () => Promise<void>, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => void heartbeat().catch(() => undefined), 1000);
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }
}
