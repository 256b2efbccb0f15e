import { ROOT_CONTEXT, SpanKind, SpanStatusCode, Tracer } from '@opentelemetry/api';
import {
  decode,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  StepCompleted,
  StepCompletedSchema,
  StepFailed,
  StepFailedSchema,
  Topic,
  TopicName,
  topicName,
  Verdict,
} from '@warden/contracts';
import { ConsumerHandle, ConsumerStatus, extractTraceContext, ServiceRuntime } from '@warden/platform';
import { gateSpan, SpanSpec } from '@warden/trace-domain';

const TOPICS: readonly TopicName[] = [Topic.gateRequests, Topic.gateDecisions, Topic.gateOutcomes];

/** Bounds on what waits in memory for the rest of its chain. */
export interface ExporterLimits {
  /** Requests remembered for their traceparent, and allowed decisions waiting for their outcome. */
  readonly maxOpen: number;
  /** An allowed decision's span is exported without outcome after this long. */
  readonly outcomeWaitMs: number;
}

interface Awaiting {
  readonly request: GateRequested;
  readonly traceparent: string | undefined;
  readonly decision: GateDecided;
  readonly since: number;
}

/**
 * Exports one GenAI span per gate request (docs/adr/0060): when its final decision is not an
 * allow, or when the agent reports the outcome of an allowed one. Its parent is the agent's
 * own span, from the `traceparent` of the GateRequested envelope. Consumes the gate topics in
 * its own group and keeps open chains in memory (bounded); offsets are committed as read, so
 * a chain still open when the process stops is not exported.
 */
export class GenAiSpanExporter {
  private handle: ConsumerHandle | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private state: ConsumerStatus = 'starting';
  private readonly traceparents = new Map<string, string | undefined>();
  private readonly awaiting = new Map<string, Awaiting>();
  /** Requests whose span went out, so a re-delivered decision or outcome is not exported twice. */
  private readonly done = new Map<string, true>();
  readonly name = 'otel-genai';
  exported = 0;

  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly tracer: Tracer,
    private readonly options: { readonly captureContent: boolean; readonly partitions: number } & ExporterLimits,
  ) {}

  get status(): ConsumerStatus {
    return this.state;
  }

  async start(): Promise<void> {
    const { port, prefix, logger } = this.runtime;
    const log = logger.child({ consumer: this.name });
    const names = new Map(TOPICS.map((t) => [topicName(prefix, t), t]));
    this.handle = await port.consume({
      groupId: `${prefix}trace.${this.name}`,
      topics: [...names.keys()],
      fromBeginning: true,
      commitOffsets: true,
      concurrency: this.options.partitions,
      batching: { minBytes: 16 * 1024, maxWaitMs: 100 },
      onCrash: (error) => {
        this.state = 'crashed';
        log.error('GenAI span exporter crashed', { error });
      },
      onBatch: async (topic, _partition, records) => {
        const name = names.get(topic)!;
        for (const record of records) {
          try {
            this.apply(name, decode(name, record));
          } catch (error) {
            // The projections dead-letter what does not decode; spans just skip it.
            log.debug('no span for an undecodable record', { topic, offset: record.offset, error });
          }
        }
        return records.at(-1)?.offset;
      },
    });
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(this.options.outcomeWaitMs, 10_000));
    this.sweeper.unref();
    this.state = 'running';
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.handle?.stop();
    this.handle = undefined;
    this.state = 'stopped';
  }

  private apply(topic: TopicName, event: ReturnType<typeof decode>): void {
    if (topic === Topic.gateRequests && event.type === GateRequestedSchema.typeName) {
      const request = event.data as GateRequested;
      this.remember(this.traceparents, request.requestId, event.traceparent);
      return;
    }
    if (event.type === GateDecidedSchema.typeName) {
      const decision = event.data as GateDecided;
      const seen = this.awaiting.has(decision.requestId) || this.done.has(decision.requestId);
      if (!decision.final || !decision.request || seen) return;
      const traceparent = this.traceparents.get(decision.requestId);
      this.traceparents.delete(decision.requestId);
      if (decision.verdict === Verdict.ALLOW) {
        this.remember(this.awaiting, decision.requestId, {
          request: decision.request,
          traceparent,
          decision,
          since: Date.now(),
        });
      } else {
        this.export({ request: decision.request, traceparent, decision });
      }
      return;
    }
    if (event.type === StepCompletedSchema.typeName || event.type === StepFailedSchema.typeName) {
      const outcome = event.data as StepCompleted | StepFailed;
      const open = this.awaiting.get(outcome.requestId);
      if (!open) return;
      this.awaiting.delete(outcome.requestId);
      this.export({ ...open, outcome });
    }
  }

  /** Exports allowed decisions whose outcome did not come in time. */
  sweep(now: number): void {
    for (const [id, open] of this.awaiting) {
      if (now - open.since < this.options.outcomeWaitMs) break;
      this.awaiting.delete(id);
      this.export({ ...open, outcomeMissing: true });
    }
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.set(key, value);
    if (map.size <= this.options.maxOpen) return;
    const oldest = map.keys().next().value as string;
    const evicted = map.get(oldest);
    map.delete(oldest);
    if (map === (this.awaiting as Map<string, unknown>)) {
      this.export({ ...(evicted as Awaiting), outcomeMissing: true });
    }
  }

  private export(chain: Parameters<typeof gateSpan>[0]): void {
    this.remember(this.done, chain.request.requestId, true);
    emitSpan(this.tracer, gateSpan(chain, { captureContent: this.options.captureContent }));
    this.exported += 1;
  }
}

/** Hands a span to the OTel SDK, as a child of the agent's span when its traceparent is known. */
export function emitSpan(tracer: Tracer, spec: SpanSpec): void {
  const parent = spec.traceparent ? extractTraceContext({ traceparent: spec.traceparent }) : ROOT_CONTEXT;
  const span = tracer.startSpan(
    spec.name,
    {
      kind: spec.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL,
      startTime: spec.startMs,
      attributes: spec.attributes as Record<string, string | number | boolean | string[]>,
    },
    parent,
  );
  for (const e of spec.events) span.addEvent(e.name, e.attributes as Record<string, string>, e.timeMs);
  if (spec.status.code === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: spec.status.message });
  else if (spec.status.code === 'ok') span.setStatus({ code: SpanStatusCode.OK });
  span.end(spec.endMs);
}
