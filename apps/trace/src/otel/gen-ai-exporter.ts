import { ROOT_CONTEXT, SpanKind, SpanStatusCode, Tracer } from '@opentelemetry/api';
import {
  BudgetReleased,
  BudgetReleasedSchema,
  BudgetSettled,
  BudgetSettledSchema,
  decode,
  GateDecided,
  GateDecidedSchema,
  StepCompleted,
  StepFailed,
  Topic,
  TopicName,
  topicName,
  Verdict,
} from '@warden/contracts';
import { ConsumerHandle, extractTraceContext, ServiceRuntime } from '@warden/platform';
import { gateSpan, SpanSpec } from '@warden/trace-domain';

/** Decisions (with the request of record and the gate's trace context) and the outcomes the budget stage accepted. */
const TOPICS: readonly TopicName[] = [Topic.gateDecisions, Topic.budgetReservations];
const OUTCOME_CARRIERS: ReadonlySet<string> = new Set([BudgetSettledSchema.typeName, BudgetReleasedSchema.typeName]);

/** Bounds on what waits in memory for the rest of its chain. */
export interface ExporterLimits {
  /** Open chains kept; past this the oldest is exported as it is (or dropped when undecided). */
  readonly maxOpen: number;
  /** A decided chain whose request was not seen is exported without a parent after this long. */
  readonly requestWaitMs: number;
  /** An allowed chain is exported without outcome after this long. */
  readonly outcomeWaitMs: number;
}

/** A gate request's chain as far as it has been read (the topics are read concurrently, in any order). */
interface Open {
  readonly since: number;
  requestSeen: boolean;
  traceparent?: string;
  decision?: GateDecided;
  outcome?: StepCompleted | StepFailed;
}

/**
 * Exports one GenAI span per gate request (docs/adr/0060) once its chain is complete: its final
 * decision (which embeds the request of record; its envelope's `traceparent` is the policy
 * stage's span, in the agent's trace, and becomes the span's parent) and, for an allowed request,
 * the outcome the agent reported as the budget stage accepted it (on its settlement or release). Consumes the gate
 * topics in its own group and keeps open chains in memory (bounded); offsets are committed as
 * read, so a chain still open when the process stops is not exported.
 */
export class GenAiSpanExporter {
  private handle: ConsumerHandle | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly open = new Map<string, Open>();
  /** Requests whose span went out, so a re-delivered decision or outcome is not exported twice. */
  private readonly done = new Map<string, true>();
  readonly name = 'otel-genai';

  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly tracer: Tracer,
    private readonly options: { readonly captureContent: boolean; readonly partitions: number } & ExporterLimits,
  ) {}

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
        log.error('GenAI span exporter crashed', { error });
      },
      onBatch: async (topic, _partition, records) => {
        const name = names.get(topic)!;
        const now = Date.now();
        for (const record of records) {
          const type = record.headers.ce_type ?? '';
          if (type !== GateDecidedSchema.typeName && !OUTCOME_CARRIERS.has(type)) continue;
          try {
            this.apply(decode(name, record), now);
          } catch (error) {
            // The projections dead-letter what does not decode; spans just skip it.
            log.debug('no span for an undecodable record', { topic, offset: record.offset, error });
          }
        }
        return records.at(-1)?.offset;
      },
    });
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(this.options.requestWaitMs, 1_000));
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.handle?.stop();
    this.handle = undefined;
  }

  private apply(event: ReturnType<typeof decode>, now: number): void {
    const data = event.data as GateDecided | BudgetSettled | BudgetReleased;
    if (!data.requestId || this.done.has(data.requestId)) return;
    if (event.type === GateDecidedSchema.typeName) {
      const decision = data as GateDecided;
      if (!decision.final || !decision.request) return;
      const chain = this.chain(decision.requestId, now);
      chain.requestSeen = true;
      chain.traceparent ??= event.traceparent;
      chain.decision ??= decision;
    } else if (OUTCOME_CARRIERS.has(event.type)) {
      const outcome = (data as BudgetSettled | BudgetReleased).outcome;
      if (!outcome) return;
      this.chain(data.requestId, now).outcome ??= outcome;
    } else {
      return;
    }
    const chain = this.open.get(data.requestId)!;
    if (chain.requestSeen && chain.decision && (chain.decision.verdict !== Verdict.ALLOW || chain.outcome)) {
      this.export(data.requestId, chain, false);
    }
  }

  /** Exports chains that waited long enough for their request or their outcome. */
  sweep(now: number): void {
    for (const [id, chain] of this.open) {
      const age = now - chain.since;
      if (!chain.decision) {
        if (age >= this.options.outcomeWaitMs) this.open.delete(id);
        continue;
      }
      const complete = chain.decision.verdict !== Verdict.ALLOW || chain.outcome !== undefined;
      if ((complete && age >= this.options.requestWaitMs) || age >= this.options.outcomeWaitMs) {
        this.export(id, chain, !complete);
      }
    }
  }

  private chain(requestId: string, now: number): Open {
    let chain = this.open.get(requestId);
    if (!chain) {
      chain = { since: now, requestSeen: false };
      this.open.set(requestId, chain);
      if (this.open.size > this.options.maxOpen) {
        const [oldest, evicted] = this.open.entries().next().value as [string, Open];
        if (evicted.decision) this.export(oldest, evicted, !evicted.outcome);
        else this.open.delete(oldest);
      }
    }
    return chain;
  }

  private export(requestId: string, chain: Open, outcomeMissing: boolean): void {
    this.open.delete(requestId);
    this.done.set(requestId, true);
    if (this.done.size > this.options.maxOpen) this.done.delete(this.done.keys().next().value as string);
    const decision = chain.decision!;
    emitSpan(
      this.tracer,
      gateSpan(
        {
          request: decision.request!,
          traceparent: chain.traceparent,
          decision,
          outcome: chain.outcome,
          outcomeMissing,
        },
        { captureContent: this.options.captureContent },
      ),
    );
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
