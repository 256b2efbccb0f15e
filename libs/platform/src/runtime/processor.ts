import { decode, Envelope, EnvelopeError, Message, partitionOf, TopicName } from '@warden/contracts';
import { Decider, DomainError, fold } from '@warden/kernel';
import { AuthorityVerifier, forgedCode } from '../crypto/authority';
import { KafkaPort, RecordIn, RecordOut, TopicSpec } from '../kafka/port';
import { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { inSpanFromHeaders } from '../observability/tracing';
import { readToEnd } from './changelog';
import { deadLetter, readableIds } from './dead-letter';
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
   * For inputs whose producers pick partitions as they like (agents, docs/adr/0070): the stream id
   * an input belongs to. An input that is not on the canonical partition of its stream
   * (`partitionOf(stream)`) is forwarded unchanged to that partition of `topic` (one of `inputs`),
   * where this processor handles it; a record there that is still not canonical is dead-lettered.
   */
  readonly reroute?: { readonly topic: TopicName; streamOf(input: Envelope): string | undefined };
  /**
   * An input that cannot be accepted (undecodable, or `command` threw an `invalid` DomainError) is
   * dead-lettered; with this hook it can also become a command, e.g. to answer its sender.
   */
  invalid?(failure: InvalidInput, context: ProcessorContext): C | null;
  /**
   * Each decided event as it is published to the changelog (e.g. without a secret its in-memory
   * state keeps), and records outside the changelog published with it (e.g. a reply to the agent).
   * `ensure` names a topic created before the first record to it is published.
   */
  sideOutputs?(event: E, input: Envelope, prefix: string): { readonly event: E; readonly extra: readonly SideOutput[] };
  /**
   * Called for each event once it is on Kafka, with the input it answers and the time its
   * batch was acknowledged: for metrics of the service (e.g. the gate's decision latency).
   */
  observe?(event: E, input: Envelope, publishedAtMs: number): void;
}

/** A record that could not be accepted, with what could be read of it. */
export interface InvalidInput {
  readonly record: RecordIn;
  readonly code: string;
  /** The field at fault (protobuf-JSON name), or '' when none can be named. */
  readonly field: string;
  readonly reason: string;
  /** Ids read from the record's body or CloudEvents headers, '' where none could be read. */
  readonly ids: {
    readonly requestId: string;
    readonly tenantId: string;
    readonly agentId: string;
    readonly runId: string;
  };
  readonly contentType: string;
}

export interface SideOutput {
  readonly record: RecordOut;
  readonly ensure?: TopicSpec;
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
  /** Partitions of every topic (WARDEN_PARTITIONS): canonical partitions are computed among them. */
  readonly partitions?: number;
  /**
   * Verifies records of authority topics (docs/adr/0118): a refused input is dead-lettered with
   * `forged:<code>`, a refused changelog record is left out of the rebuilt state.
   */
  readonly authority?: AuthorityVerifier;
}

export const REROUTED_FROM = 'warden_rerouted_from';

/** What a batch publishes besides its changelog records, and the events to observe once published. */
interface BatchOut<E> {
  readonly extra: SideOutput[];
  readonly observed: { event: E; input: Envelope }[];
}

/** The type of the stand-in envelope an undecodable input's command is decided with. */
export const UNDECODED = 'warden.undecoded';

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
  /** Topics of side outputs known to exist. */
  private readonly ensured = new Set<string>();

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
      const changelogTopic = record.topic.slice(this.deps.prefix.length) as TopicName;
      const verdict = this.deps.authority?.check(changelogTopic, record);
      if (verdict && !verdict.ok) {
        this.log.warn('skipping forged changelog record', {
          topic: record.topic,
          offset: record.offset,
          code: forgedCode(verdict.code),
          reason: verdict.reason,
        });
        return;
      }
      let envelope: Envelope;
      try {
        envelope = decode(changelogTopic, record);
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

    let last: string | undefined;
    const batch: BatchOut<E> = { extra: [], observed: [] };
    const extra = batch.extra;
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
      const verdict = this.deps.authority?.check(inputTopic, record);
      if (verdict && !verdict.ok) {
        // Not from the topic's owner (docs/adr/0118): changes nothing, answers nobody.
        out.push(this.rejected(record, forgedCode(verdict.code), verdict.reason, now));
        continue;
      }
      let input: Envelope;
      try {
        input = decode(inputTopic, record);
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        out.push(...this.invalidInput(record, error.code, error.field, error.message, ps, now, batch));
        continue;
      }
      const moved = this.reroute(input, record, inputTopic, now);
      if (moved) {
        out.push(moved);
        continue;
      }
      try {
        const produced = inSpanFromHeaders(
          `${this.def.name} process`,
          record.headers,
          { 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'cloudevents.event_type': input.type },
          () => this.decideOne(input, record, ps, now, batch),
        );
        out.push(...produced);
        metrics.messages.inc({
          consumer: this.def.name,
          topic: inputTopic,
          outcome: produced.length ? 'handled' : 'ignored',
        });
      } catch (error) {
        if (error instanceof DomainError && error.kind === 'invalid') {
          const code = `${error.kind}:${error.code}`;
          out.push(...this.invalidInput(record, code, error.field ?? '', error.message, ps, now, batch, input));
        } else if (error instanceof DomainError) {
          out.push(this.rejected(record, `${error.kind}:${error.code}`, error.message, now));
        } else {
          this.log.error('handler failed; dead-lettering the input', { topic, offset: record.offset, error });
          out.push(this.rejected(record, 'handler_error', (error as Error).message, now));
        }
      }
    }
    try {
      await this.ensureTopics(extra);
      await port.publish([...out, ...extra.map((e) => e.record)]);
    } catch (error) {
      // State already moved past what reached Kafka: forget it and rebuild before retrying.
      this.partitions.delete(partition);
      throw error;
    } finally {
      timer();
    }
    for (const r of out) metrics.published.inc({ topic: r.topic });
    if (extra.length > 0) metrics.published.inc({ topic: 'side-output' }, extra.length);
    const publishedAt = Date.now();
    for (const o of batch.observed) this.def.observe?.(o.event, o.input, publishedAt);
    return last;
  }

  /** Creates the topics side outputs go to, once each. */
  private async ensureTopics(extra: readonly SideOutput[]): Promise<void> {
    const missing = new Map<string, TopicSpec>();
    for (const e of extra) {
      if (e.ensure && !this.ensured.has(e.ensure.topic)) missing.set(e.ensure.topic, e.ensure);
    }
    if (missing.size === 0) return;
    await this.deps.port.ensureTopics([...missing.values()]);
    for (const t of missing.keys()) this.ensured.add(t);
  }

  /** The forward of an input that is not on its stream's canonical partition, or undefined. */
  private reroute(input: Envelope, record: RecordIn, inputTopic: TopicName, now: number): RecordOut | undefined {
    const r = this.def.reroute;
    const partitions = this.deps.partitions;
    if (!r || !partitions) return undefined;
    const stream = r.streamOf(input);
    if (stream === undefined) return undefined;
    const target = partitionOf(stream, partitions);
    if (target === record.partition) return undefined;
    if (inputTopic === r.topic) {
      return this.rejected(record, 'misrouted', `stream ${stream} belongs on partition ${target}`, now);
    }
    this.deps.metrics.messages.inc({ consumer: this.def.name, topic: inputTopic, outcome: 'rerouted' });
    return {
      topic: this.deps.prefix + r.topic,
      key: stream,
      value: record.value ?? Buffer.alloc(0),
      headers: { ...record.headers, [REROUTED_FROM]: `${record.topic}:${record.partition}:${record.offset}` },
      partition: target,
    };
  }

  /** Dead-letters an input that cannot be accepted and, with the `invalid` hook, decides what it becomes. */
  private invalidInput(
    record: RecordIn,
    code: string,
    field: string,
    reason: string,
    ps: PartitionState<S>,
    now: number,
    batch: BatchOut<E>,
    decoded?: Envelope,
  ): RecordOut[] {
    const dead = this.rejected(record, code, reason, now);
    if (!this.def.invalid) return [dead];
    const context = this.contextOf(record, now);
    const contentType = (record.headers['content-type'] ?? 'application/protobuf').split(';')[0].trim();
    const ids = readableIds(record);
    const command = this.def.invalid({ record, code, field, reason, ids, contentType }, context);
    if (command === null) return [dead];
    // Undecodable: its state is the stream of the run (or the request) it names, where one can be read.
    const input: Envelope = decoded ?? {
      id: record.headers.ce_id ?? '',
      type: UNDECODED,
      source: record.headers.ce_source ?? '',
      time: now,
      key: ids.runId || ids.requestId || (record.key ?? ''),
      tenantId: ids.tenantId,
      agentId: ids.agentId,
      runId: ids.runId,
      data: undefined as never,
    };
    return [dead, ...this.decideCommand(command, input, record, ps, now, batch)];
  }

  private contextOf(record: RecordIn, now: number): ProcessorContext {
    return {
      now,
      partition: record.partition,
      id: (n = 0) => deterministicId(this.def.name, record.topic, record.partition, record.offset, n),
    };
  }

  private decideOne(
    input: Envelope,
    record: RecordIn,
    ps: PartitionState<S>,
    now: number,
    batch: BatchOut<E>,
  ): RecordOut[] {
    const command = this.def.command(input, this.contextOf(record, now));
    if (command === null) return [];
    return this.decideCommand(command, input, record, ps, now, batch);
  }

  private decideCommand(
    command: C,
    input: Envelope,
    record: RecordIn,
    ps: PartitionState<S>,
    now: number,
    batch: BatchOut<E>,
  ): RecordOut[] {
    const stream = this.streamKey(input, record);
    const state = ps.streams.get(stream) ?? this.def.decider.initialState;
    const events = this.def.decider.decide(command, state);
    if (events.length === 0) return [];
    ps.streams.set(stream, fold(this.def.decider.evolve, state, events));
    if (this.def.observe) for (const event of events) batch.observed.push({ event, input });
    const src = { [SOURCE_HEADER]: `${record.topic}:${record.partition}:${record.offset}` };
    return events.map((decided, i) => {
      const side = this.def.sideOutputs?.(decided, input, this.deps.prefix);
      const event = side?.event ?? decided;
      if (side) batch.extra.push(...side.extra);
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

  /** The state's stream: the record key, or the stream the reroute names (agents key as they like). */
  private streamKey(input: Envelope, record: RecordIn): string {
    if (input.type === UNDECODED) return input.key;
    if (this.def.reroute) return this.def.reroute.streamOf(input) ?? record.key ?? '';
    return record.key ?? '';
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
