import { randomUUID } from 'node:crypto';
import {
  ActionKind,
  argumentsDigest,
  create,
  DataClass,
  decode,
  encode,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  is,
  JsonObject,
  MemoryClass,
  Message,
  MoneySchema,
  newProofKey,
  outcomeProof,
  ProofKey,
  replyTopic,
  requestProof,
  StepCompletedSchema,
  StepFailedSchema,
  tenantGroupPrefix,
  encodeTopicPart,
  Topic,
  TopicName,
  topicName,
  Verdict,
  withRequestDefaults,
} from '@warden/contracts';
import { ConsumerHandle, KafkajsPort, KafkaPort, KafkaSecurity, Logger, currentTraceHeaders } from '@warden/platform';
import { AgentCredentials, AgentTokenSource } from './agent-token';

export type ActionKindName = 'step' | 'model_call' | 'tool_call' | 'memory_read' | 'memory_write' | 'delegation';
export type VerdictName = 'allow' | 'deny' | 'pending_approval' | 'expired' | 'already_completed';
export type { JsonObject };

export interface GateInput {
  /** The client's own agent identity; given here, it must be the client's. */
  readonly tenantId?: string;
  readonly agentId?: string;
  readonly runId: string;
  readonly action: { readonly kind: ActionKindName; readonly tool?: string; readonly name?: string };
  readonly stepId?: string;
  readonly parentStepId?: string;
  readonly attempt?: number;
  /** Defaults to `${runId}:${stepId}`: a retry of the same step must reuse it. */
  readonly idempotencyKey?: string;
  readonly requestId?: string;
  /** The arguments exactly as the tool will receive them; the gate digests and redacts them. */
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
  readonly businessOutcome?: string;
}

/** The ids of a request the gate was asked about, for its outcome. */
export interface RequestIds {
  readonly requestId: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly runId: string;
  readonly stepId: string;
  readonly idempotencyKey: string;
}

export interface GateResult {
  readonly verdict: VerdictName;
  readonly reason: string;
  readonly requestId: string;
  /** The request's ids, to report its outcome with (`reportOutcome({ request: result.request, ... })`). */
  readonly request: RequestIds;
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
  /**
   * The approval task of the request: on pending_approval, the task that will decide it (approvers
   * open `GET <approval>/tasks/<id>`); on the final decision after it, the task that decided it.
   */
  readonly approvalTaskId?: string;
  /** On a final decision after a grant: every approver of the quorum, in the order they voted. */
  readonly approvers?: readonly string[];
}

export interface OutcomeInput {
  readonly request: {
    readonly requestId: string;
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
  /**
   * The agent this client speaks for. It receives only this agent's decisions, on the agent's
   * reply topic (docs/protocol.md); the registry creates that topic when the agent is registered.
   */
  readonly agent: { readonly tenantId: string; readonly agentId: string };
  /** Topic prefix of the Warden installation (WARDEN_TOPIC_PREFIX). */
  readonly topicPrefix?: string;
  readonly clientId?: string;
  /** TLS and SASL towards Kafka: the agent's principal on a cluster with ACLs (docs/security.md). */
  readonly security?: KafkaSecurity;
  /** How long gate() waits for a decision before failing closed; default 5 s. */
  readonly defaultTimeoutMs?: number;
  /** Encode requests as protobuf (default) or protobuf-JSON. */
  readonly contentType?: 'application/protobuf' | 'application/json';
  readonly logger?: Logger;
  /** For tests: a ready port instead of a kafkajs connection. */
  readonly port?: KafkaPort;
  /** The key requests are proved with (default: a fresh one); agent tokens are bound to it. */
  readonly proofKey?: ProofKey;
  /**
   * The agent's credential: the client then obtains (and refreshes) its agent token from the
   * registry and sends it with every gate request that does not carry one itself.
   */
  readonly credentials?: AgentCredentials;
}

/**
 * The agent side of the gate (docs/protocol.md). `gate()` publishes a GateRequested — raw arguments,
 * the agent token and a request proof — and waits for its decision on the agent's reply topic;
 * with no decision before the deadline it fails closed (a denial that never reached Warden).
 * `reportOutcome()` publishes StepCompleted or StepFailed, proved by the same key.
 */
export class WardenClient {
  private readonly pending = new Map<string, (decision: GateDecided) => void>();
  private handle: ConsumerHandle | undefined;
  private readonly prefix: string;
  private readonly source: string;
  private readonly tokens: AgentTokenSource | undefined;
  private readonly key: ProofKey;
  /** Requests that carried a proof: their outcomes are proved too. */
  private readonly proved = new Set<string>();

  private constructor(
    private readonly port: KafkaPort,
    private readonly options: WardenClientOptions,
  ) {
    this.prefix = options.topicPrefix ?? 'warden.';
    this.source = `warden://sdk/${options.clientId ?? 'agent'}`;
    this.key = options.proofKey ?? newProofKey();
    this.tokens = options.credentials && new AgentTokenSource(options.credentials, Date.now, this.key);
    if (options.credentials && options.credentials.agentId !== options.agent.agentId) {
      throw new Error(
        `the credentials are agent ${options.credentials.agentId}'s, the client is ${options.agent.agentId}'s`,
      );
    }
  }

  /** The agent this client speaks for. */
  get agent(): { readonly tenantId: string; readonly agentId: string } {
    return this.options.agent;
  }

  static async connect(options: WardenClientOptions): Promise<WardenClient> {
    const logger = options.logger ?? new Logger('sdk', 'warn');
    const port =
      options.port ??
      new KafkajsPort({
        brokers: options.brokers,
        clientId: options.clientId ?? 'warden-sdk',
        logger,
        security: options.security,
      });
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
    const { tenantId, agentId } = this.options.agent;
    const ids: RequestIds = {
      requestId: input.requestId ?? randomUUID(),
      tenantId,
      agentId,
      runId: input.runId,
      stepId: '',
      idempotencyKey: '',
    };
    const refuse = (reason: string, timedOut = false): GateResult => ({
      verdict: 'deny',
      reason,
      requestId: ids.requestId,
      request: ids,
      timedOut,
      allowed: false,
    });
    if ((input.tenantId && input.tenantId !== tenantId) || (input.agentId && input.agentId !== agentId)) {
      return refuse(
        `this client speaks for ${tenantId}/${agentId}, not ${input.tenantId}/${input.agentId} (fail closed)`,
      );
    }
    let agentToken = input.agentToken;
    if (!agentToken && this.tokens) {
      try {
        agentToken = await this.tokens.token();
      } catch (error) {
        return refuse(`no agent token: ${(error as Error).message} (fail closed)`);
      }
    }
    const request = buildRequest(
      { ...input, tenantId, agentId, requestId: ids.requestId, agentToken },
      Date.now(),
      timeoutMs,
    );
    if (request.agentToken) {
      request.requestProof = requestProof(request, this.key);
      this.proved.add(request.requestId);
    }
    const sent: RequestIds = { ...ids, stepId: request.stepId, idempotencyKey: request.idempotencyKey };
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.pending.delete(request.requestId);
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
      await this.publish(Topic.gateRequests, request.runId, request, request.requestId);
    } catch (error) {
      settle();
      return {
        ...refuse(`gate request could not be published: ${(error as Error).message} (fail closed)`),
        request: sent,
      };
    }
    const decision = await decided;
    if (!decision) return { ...refuse(`no decision within ${timeoutMs} ms (fail closed)`, true), request: sent };
    const verdict = (Verdict[decision.verdict] ?? 'DENY').toLowerCase() as VerdictName;
    return {
      verdict,
      reason: decision.reason,
      requestId: request.requestId,
      request: sent,
      decision,
      timedOut: false,
      allowed: verdict === 'allow',
      decisionToken: decision.decisionToken || undefined,
      tokenExpiresAtMs: decision.tokenExpiresAtMs || undefined,
      hints: decision.hints,
      completedByRequestId: decision.completedByRequestId || undefined,
      approvalTaskId: decision.context?.approval?.taskId || undefined,
      approvers: decision.context?.approval?.approvers.length ? [...decision.context.approval.approvers] : undefined,
    };
  }

  async reportOutcome(outcome: OutcomeInput): Promise<void> {
    const r = outcome.request;
    const { tenantId, agentId } = this.options.agent;
    const common = {
      requestId: r.requestId,
      stepId: r.stepId ?? '',
      idempotencyKey: r.idempotencyKey ?? '',
      tenantId,
      agentId,
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
            resultDigest: outcome.result === undefined ? '' : argumentsDigest(outcome.result),
            completedAtMs: now,
          })
        : create(StepFailedSchema, {
            ...common,
            error: outcome.error ?? '',
            retryable: outcome.retryable ?? false,
            failedAtMs: now,
          });
    if (this.proved.delete(r.requestId) || this.tokens) event.outcomeProof = outcomeProof(event, this.key);
    await this.publish(Topic.gateOutcomes, r.runId, event, r.requestId);
  }

  async close(): Promise<void> {
    await this.handle?.stop();
    if (this.handle) await this.port.deleteGroups([this.handle.groupId]);
    if (!this.options.port) await this.port.close();
  }

  /** Subscribes to the agent's reply topic before any request goes out (docs/protocol.md). */
  private async listen(): Promise<void> {
    const { tenantId, agentId } = this.options.agent;
    const topic = `${this.prefix}${replyTopic(tenantId, agentId)}`;
    let watermarks;
    try {
      watermarks = await this.port.watermarks(topic);
    } catch (error) {
      throw new Error(
        `agent ${tenantId}/${agentId} has no reply topic ${topic} (is it registered?): ${(error as Error).message}`,
      );
    }
    const startAt = watermarks.map((w) => ({ topic, partition: w.partition, offset: w.high }));
    let joined!: () => void;
    const ready = new Promise<void>((resolve) => (joined = resolve));
    this.handle = await this.port.consume({
      groupId: `${this.prefix}${tenantGroupPrefix(tenantId)}${encodeTopicPart(agentId)}.${randomUUID()}`,
      topics: [topic],
      fromBeginning: false,
      // Committed positions let a client that was dropped from its group (a stalled event loop)
      // resume where it was instead of at the end, so no decision is skipped.
      commitOffsets: true,
      concurrency: Math.max(1, startAt.length),
      startAt,
      onAssigned: () => joined(),
      onBatch: async (_t, _p, records) => {
        for (const record of records) {
          // Decode only replies a request waits for (the CloudEvents id is "<decision id>:reply").
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

  private async publish(topic: TopicName, runId: string, data: Message, requestId: string) {
    const trace = currentTraceHeaders();
    const { tenantId, agentId } = this.options.agent;
    const wire = encode(
      {
        // A gate request's CloudEvents id is its request id (docs/protocol.md).
        id: topic === Topic.gateRequests ? requestId : randomUUID(),
        type: data.$typeName,
        source: this.source,
        time: Date.now(),
        key: runId,
        tenantId,
        agentId,
        runId,
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

/**
 * The request as the SDK sends it: the protocol's defaults applied (docs/protocol.md), raw
 * arguments and their digest; the gate redacts them before anything is persisted.
 */
export function buildRequest(
  input: GateInput & { tenantId: string; agentId: string },
  now: number,
  timeoutMs: number,
): GateRequested {
  const requestId = input.requestId ?? randomUUID();
  const args = input.arguments ?? {};
  return create(
    GateRequestedSchema,
    withRequestDefaults(
      create(GateRequestedSchema, {
        requestId,
        idempotencyKey: input.idempotencyKey ?? '',
        stepId: input.stepId ?? '',
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
        arguments: args,
        argumentsDigest: argumentsDigest(args),
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
        businessOutcome: input.businessOutcome ?? '',
      }),
    ),
  );
}

/** The digest of arguments (or a result) as the gate and tools compute it: RFC 8785, SHA-256. */
export const digest = argumentsDigest;
