import { createHash, randomUUID } from 'node:crypto';
import {
  ActionKind,
  create,
  DataClass,
  decode,
  encode,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  is,
  MemoryClass,
  Message,
  MoneySchema,
  StepCompletedSchema,
  StepFailedSchema,
  Topic,
  TopicName,
  topicName,
  Verdict,
} from '@warden/contracts';
import { ConsumerHandle, KafkajsPort, KafkaPort, Logger, currentTraceHeaders } from '@warden/platform';
import { AgentCredentials, AgentTokenSource } from './agent-token';

export type ActionKindName = 'step' | 'model_call' | 'tool_call' | 'memory_read' | 'memory_write' | 'delegation';
export type VerdictName = 'allow' | 'deny' | 'pending_approval' | 'expired' | 'already_completed';
export type JsonObject = { [key: string]: unknown };

export interface GateInput {
  readonly tenantId: string;
  readonly agentId: string;
  readonly runId: string;
  readonly action: { readonly kind: ActionKindName; readonly tool?: string; readonly name?: string };
  readonly stepId?: string;
  readonly parentStepId?: string;
  readonly attempt?: number;
  /** Defaults to `${runId}:${stepId}`: a retry of the same step must reuse it. */
  readonly idempotencyKey?: string;
  readonly requestId?: string;
  readonly arguments?: JsonObject;
  readonly dataClasses?: readonly (keyof typeof DataClass)[];
  readonly estimatedTokens?: number;
  readonly estimatedCost?: { readonly currency: string; readonly micros: number };
  readonly onBehalfOf?: string;
  readonly environment?: string;
  readonly model?: string;
  readonly memory?: { readonly store: string; readonly class: keyof typeof MemoryClass };
  readonly delegateToAgentId?: string;
  readonly agentToken?: string;
}

export interface GateResult {
  readonly verdict: VerdictName;
  readonly reason: string;
  readonly requestId: string;
  /** The decision event, or undefined when none arrived in time (the SDK failed closed). */
  readonly decision?: GateDecided;
  /** True when no decision arrived before the deadline: treated as a denial. */
  readonly timedOut: boolean;
  readonly allowed: boolean;
  /** On allow: the signed decision token to hand to the tool, and when it expires (ms since epoch). */
  readonly decisionToken?: string;
  readonly tokenExpiresAtMs?: number;
  /** Degrade hints from the budget (e.g. use a cheaper model). */
  readonly hints?: readonly string[];
  /** On already_completed: the request whose outcome completed this idempotency key. */
  readonly completedByRequestId?: string;
}

export interface OutcomeInput {
  readonly request: {
    readonly requestId: string;
    readonly tenantId: string;
    readonly agentId: string;
    readonly runId: string;
    readonly stepId?: string;
    readonly idempotencyKey?: string;
  };
  readonly status: 'completed' | 'failed';
  readonly actualTokens?: number;
  readonly actualCost?: { readonly currency: string; readonly micros: number };
  readonly durationMs?: number;
  readonly result?: unknown;
  readonly error?: string;
  readonly retryable?: boolean;
}

export interface WardenClientOptions {
  readonly brokers: readonly string[];
  /** Topic prefix of the Warden installation (WARDEN_TOPIC_PREFIX). */
  readonly topicPrefix?: string;
  readonly clientId?: string;
  /** How long gate() waits for a decision before failing closed; default 5 s. */
  readonly defaultTimeoutMs?: number;
  /** Encode requests as protobuf (default) or protobuf-JSON. */
  readonly contentType?: 'application/protobuf' | 'application/json';
  readonly logger?: Logger;
  /** For tests: a ready port instead of a kafkajs connection. */
  readonly port?: KafkaPort;
  /**
   * The agent's credential: the client then obtains (and refreshes) its agent token from the
   * registry and sends it with every gate request that does not carry one itself.
   */
  readonly credentials?: AgentCredentials;
}

/**
 * The agent side of the gate. `gate()` publishes a GateRequested and waits for its decision;
 * with no decision before the deadline it fails closed (a denial that never reached Warden).
 * `reportOutcome()` publishes StepCompleted or StepFailed.
 */
export class WardenClient {
  private readonly pending = new Map<string, (decision: GateDecided) => void>();
  /** Runs with a request waiting, with how many: decisions of other runs are not decoded. */
  private readonly waitingRuns = new Map<string, number>();
  private handle: ConsumerHandle | undefined;
  private readonly prefix: string;
  private readonly source: string;
  private readonly tokens: AgentTokenSource | undefined;

  private constructor(
    private readonly port: KafkaPort,
    private readonly options: WardenClientOptions,
  ) {
    this.prefix = options.topicPrefix ?? 'warden.';
    this.source = `warden://sdk/${options.clientId ?? 'agent'}`;
    this.tokens = options.credentials && new AgentTokenSource(options.credentials);
  }

  static async connect(options: WardenClientOptions): Promise<WardenClient> {
    const logger = options.logger ?? new Logger('sdk', 'warn');
    const port =
      options.port ?? new KafkajsPort({ brokers: options.brokers, clientId: options.clientId ?? 'warden-sdk', logger });
    if (!options.port) await port.connect();
    const client = new WardenClient(port, options);
    await client.listen();
    return client;
  }

  /**
   * Asks the gate and waits for the decision. With `approvalTimeoutMs`, a `pending_approval`
   * decision is not the answer yet: the call keeps waiting (up to that long) for the final decision
   * on the same request, which the policy service publishes once the approval resolves; if none
   * comes in time the pending decision is returned (not allowed).
   */
  async gate(input: GateInput, opts: { timeoutMs?: number; approvalTimeoutMs?: number } = {}): Promise<GateResult> {
    const timeoutMs = opts.timeoutMs ?? this.options.defaultTimeoutMs ?? 5000;
    const approvalWaitMs = opts.approvalTimeoutMs ?? 0;
    let agentToken = input.agentToken;
    if (!agentToken && this.tokens) {
      try {
        agentToken = await this.tokens.token();
      } catch (error) {
        return {
          verdict: 'deny',
          reason: `no agent token: ${(error as Error).message} (fail closed)`,
          requestId: input.requestId ?? '',
          timedOut: false,
          allowed: false,
        };
      }
    }
    const request = buildRequest({ ...input, agentToken }, Date.now(), timeoutMs);
    const run = request.runId;
    this.waitingRuns.set(run, (this.waitingRuns.get(run) ?? 0) + 1);
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.pending.delete(request.requestId);
      const left = (this.waitingRuns.get(run) ?? 1) - 1;
      if (left > 0) this.waitingRuns.set(run, left);
      else this.waitingRuns.delete(run);
    };
    let interim: GateDecided | undefined;
    const decided = new Promise<GateDecided | undefined>((resolve) => {
      const giveUp = () => {
        settle();
        resolve(interim);
      };
      let timer = setTimeout(giveUp, timeoutMs);
      this.pending.set(request.requestId, (d) => {
        if (!d.final && approvalWaitMs > 0) {
          // Pending approval: wait on for the final decision of this request.
          if (interim) return;
          interim = d;
          clearTimeout(timer);
          timer = setTimeout(giveUp, approvalWaitMs);
          return;
        }
        clearTimeout(timer);
        settle();
        resolve(d);
      });
    });
    try {
      await this.publish(Topic.gateRequests, request.runId, request, request);
    } catch (error) {
      settle();
      return {
        verdict: 'deny',
        reason: `gate request could not be published: ${(error as Error).message} (fail closed)`,
        requestId: request.requestId,
        timedOut: false,
        allowed: false,
      };
    }
    const decision = await decided;
    if (!decision) {
      return {
        verdict: 'deny',
        reason: `no decision within ${timeoutMs} ms (fail closed)`,
        requestId: request.requestId,
        timedOut: true,
        allowed: false,
      };
    }
    const verdict = (Verdict[decision.verdict] ?? 'DENY').toLowerCase() as VerdictName;
    return {
      verdict,
      reason: decision.reason,
      requestId: request.requestId,
      decision,
      timedOut: false,
      allowed: verdict === 'allow',
      decisionToken: decision.decisionToken || undefined,
      tokenExpiresAtMs: decision.tokenExpiresAtMs || undefined,
      hints: decision.hints,
      completedByRequestId: decision.completedByRequestId || undefined,
    };
  }

  async reportOutcome(outcome: OutcomeInput): Promise<void> {
    const r = outcome.request;
    const common = {
      requestId: r.requestId,
      stepId: r.stepId ?? '',
      idempotencyKey: r.idempotencyKey ?? '',
      tenantId: r.tenantId,
      agentId: r.agentId,
      runId: r.runId,
      actualTokens: outcome.actualTokens ?? 0,
      actualCost: outcome.actualCost ? create(MoneySchema, outcome.actualCost) : undefined,
      durationMs: outcome.durationMs ?? 0,
    };
    const now = Date.now();
    const event =
      outcome.status === 'completed'
        ? create(StepCompletedSchema, {
            ...common,
            resultDigest: outcome.result === undefined ? '' : digest(outcome.result),
            completedAtMs: now,
          })
        : create(StepFailedSchema, {
            ...common,
            error: outcome.error ?? '',
            retryable: outcome.retryable ?? false,
            failedAtMs: now,
          });
    await this.publish(Topic.gateOutcomes, r.runId, event, r);
  }

  async close(): Promise<void> {
    await this.handle?.stop();
    if (this.handle) await this.port.deleteGroups([this.handle.groupId]);
    if (!this.options.port) await this.port.close();
  }

  private async listen(): Promise<void> {
    const topic = topicName(this.prefix, Topic.gateDecisions);
    const startAt = (await this.port.watermarks(topic)).map((w) => ({ topic, partition: w.partition, offset: w.high }));
    let joined!: () => void;
    const ready = new Promise<void>((resolve) => (joined = resolve));
    this.handle = await this.port.consume({
      groupId: `${this.prefix}sdk.${this.options.clientId ?? 'agent'}.${randomUUID()}`,
      topics: [topic],
      fromBeginning: false,
      // Committed positions let a client that was dropped from its group (a stalled event loop)
      // resume where it was instead of at the end, so no decision is skipped.
      commitOffsets: true,
      concurrency: startAt.length,
      startAt,
      onAssigned: () => joined(),
      onBatch: async (_t, _p, records) => {
        for (const record of records) {
          // Decode only decisions of runs with a request waiting (the key is the run id).
          if (!record.key || !this.waitingRuns.has(record.key)) continue;
          try {
            const envelope = decode(Topic.gateDecisions, record);
            if (is(envelope, GateDecidedSchema)) this.pending.get(envelope.data.requestId)?.(envelope.data);
          } catch {
            // Not ours to judge: the policy service is the only writer of this topic.
          }
        }
        return records.at(-1)?.offset;
      },
    });
    await ready;
  }

  private async publish(
    topic: TopicName,
    key: string,
    data: Message,
    ids: { tenantId: string; agentId: string; runId: string },
  ) {
    const trace = currentTraceHeaders();
    const wire = encode(
      {
        id: randomUUID(),
        type: data.$typeName,
        source: this.source,
        time: Date.now(),
        key,
        tenantId: ids.tenantId,
        agentId: ids.agentId,
        runId: ids.runId,
        traceparent: trace.traceparent,
        tracestate: trace.tracestate,
        data,
      },
      this.options.contentType ?? 'application/protobuf',
    );
    await this.port.publish([{ topic: topicName(this.prefix, topic), ...wire }]);
  }
}

const KINDS: Record<ActionKindName, ActionKind> = {
  step: ActionKind.STEP,
  model_call: ActionKind.MODEL_CALL,
  tool_call: ActionKind.TOOL_CALL,
  memory_read: ActionKind.MEMORY_READ,
  memory_write: ActionKind.MEMORY_WRITE,
  delegation: ActionKind.DELEGATION,
};

/** Keys whose values never leave the agent: they are replaced in the redacted arguments. */
const SECRET = /pass(word)?|secret|token|api[-_]?key|authorization|credential|ssn|card/i;

export function buildRequest(input: GateInput, now: number, timeoutMs: number): GateRequested {
  const stepId = input.stepId ?? randomUUID();
  const args = input.arguments ?? {};
  return create(GateRequestedSchema, {
    requestId: input.requestId ?? randomUUID(),
    idempotencyKey: input.idempotencyKey ?? `${input.runId}:${stepId}`,
    stepId,
    attempt: input.attempt ?? 1,
    requestedAtMs: now,
    deadlineMs: now + timeoutMs,
    tenantId: input.tenantId,
    agentId: input.agentId,
    runId: input.runId,
    parentStepId: input.parentStepId ?? '',
    actionKind: KINDS[input.action.kind],
    tool: input.action.tool ?? '',
    action: input.action.name ?? '',
    argumentsDigest: digest(args),
    redactedArguments: redact(args) as JsonObject & { [k: string]: never },
    dataClasses: (input.dataClasses ?? []).map((c) => DataClass[c]),
    estimatedTokens: input.estimatedTokens ?? 0,
    estimatedCost: input.estimatedCost ? create(MoneySchema, input.estimatedCost) : undefined,
    onBehalfOf: input.onBehalfOf ?? '',
    environment: input.environment ?? '',
    model: input.model ?? '',
    memoryStore: input.memory?.store ?? '',
    memoryClass: input.memory ? MemoryClass[input.memory.class] : MemoryClass.UNSPECIFIED,
    delegateToAgentId: input.delegateToAgentId ?? '',
    agentToken: input.agentToken ?? '',
  });
}

/** SHA-256 of canonical JSON (keys sorted), as `sha256:<hex>`. */
export function digest(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonical(value)).digest('hex')}`;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET.test(k) ? '[redacted]' : redact(v)]));
  }
  return value;
}
