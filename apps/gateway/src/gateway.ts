import { randomUUID } from 'node:crypto';
import {
  argumentsDigest,
  CanonicalJsonError,
  create,
  decodeAgentJson,
  encode,
  EnvelopeError,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  gateRequestProblem,
  Message,
  outcomeProblem,
  outcomeProofProblem,
  requestProofProblem,
  StepCompleted,
  StepCompletedSchema,
  StepFailed,
  StepFailedSchema,
  toJson,
  Topic,
  TopicName,
  topicName,
  typeRegistry,
  Verdict,
  withRequestDefaults,
} from '@warden/contracts';
import { forbidden, invalid } from '@warden/kernel';
import { KafkaPort } from '@warden/platform';
import { AuthenticatedAgent } from './agent-auth';
import { ReplyRouter } from './replies';

export type VerdictName = 'allow' | 'deny' | 'pending_approval' | 'expired' | 'already_completed';

/** What POST /v1/gate (and each AuthZEN evaluation) answers: the decision, or a fail-closed deny. */
export interface GateAnswer {
  readonly requestId: string;
  readonly verdict: VerdictName;
  /** True only for `allow`. */
  readonly allowed: boolean;
  /** False for pending_approval: the final decision of the same request follows (on the reply topic). */
  readonly final: boolean;
  /** True when no decision came before the deadline (or the gateway's cap): a deny that never reached the gate. */
  readonly timedOut: boolean;
  readonly reason: string;
  readonly decisionId?: string;
  readonly decisionToken?: string;
  readonly tokenExpiresAtMs?: number;
  readonly hints: readonly string[];
  readonly completedByRequestId?: string;
  readonly approvalTaskId?: string;
  readonly approvers?: readonly string[];
  /** The step id and idempotency key the request was sent with (defaults applied), for its outcome. */
  readonly stepId: string;
  readonly idempotencyKey: string;
  /** The GateDecided itself, in protobuf's canonical JSON (docs/protocol.md, Decisions); absent on a timeout. */
  readonly decision?: unknown;
}

export interface GatewayRules {
  readonly maxDeadlineMs: number;
  readonly maxWaitMs: number;
}

/** A problem of agent input as a 400 naming the field (the gate's own codes, docs/protocol.md). */
function badInput(error: unknown): never {
  if (error instanceof EnvelopeError) throw invalid(error.code, error.message, error.field || undefined);
  throw error;
}

/** Decodes a JSON body as a protobuf-JSON message of `schema`, refusing unknown fields by name. */
export function decodeBody<T extends Message>(schema: Parameters<typeof decodeAgentJson>[0], body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('undecodable_data', 'the body must be a JSON object (Content-Type: application/json)');
  try {
    return decodeAgentJson(schema, Buffer.from(JSON.stringify(body))) as T;
  } catch (error) {
    badInput(error);
  }
}

const VERDICTS: Record<number, VerdictName> = {
  [Verdict.ALLOW]: 'allow',
  [Verdict.DENY]: 'deny',
  [Verdict.PENDING_APPROVAL]: 'pending_approval',
  [Verdict.EXPIRED]: 'expired',
  [Verdict.ALREADY_COMPLETED]: 'already_completed',
};

/**
 * The gateway's one job: turn an authenticated HTTP call into what an agent would publish on Kafka
 * (docs/protocol.md) and its decision into an HTTP answer. The request is the client's, proved by
 * the client's key (ADR 0119): the gateway checks everything the gate will check before it
 * publishes, so a bad call is a 4xx at once, and the gate checks it all again.
 */
export class Gateway {
  constructor(
    private readonly port: KafkaPort,
    private readonly replies: ReplyRouter,
    private readonly prefix: string,
    private readonly rules: GatewayRules,
    private readonly now: () => number = Date.now,
    private readonly observe: (verdict: VerdictName, timedOut: boolean, ms: number) => void = () => undefined,
  ) {}

  /**
   * The request as it will be published, checked: fields, ids equal to the token's, the digest,
   * the defaults, and the request proof by the token's key. Throws 400/403 problems.
   */
  prepareRequest(sent: GateRequested, agent: AuthenticatedAgent, proofHeader: string | undefined): GateRequested {
    const r = create(GateRequestedSchema, sent);
    if (r.agentToken && r.agentToken !== agent.token)
      throw invalid('refused_field', 'agentToken is the token of the Authorization header: leave it out', 'agentToken');
    r.tenantId ||= agent.claims.tenant;
    r.agentId ||= agent.claims.sub;
    if (r.tenantId !== agent.claims.tenant || r.agentId !== agent.claims.sub)
      throw forbidden(
        'wrong_agent',
        `the agent token is ${agent.claims.tenant}/${agent.claims.sub}'s, the request names ${r.tenantId}/${r.agentId}`,
      );
    if (proofHeader && r.requestProof && proofHeader !== r.requestProof)
      throw invalid('invalid_value', 'the Warden-Request-Proof header and requestProof differ', 'requestProof');
    r.requestProof ||= proofHeader ?? '';
    const problem = gateRequestProblem(r, { maxDeadlineMs: this.rules.maxDeadlineMs });
    if (problem)
      throw invalid(problem.code, `invalid request (field ${problem.field}): ${problem.reason}`, problem.field);
    let digest: string;
    try {
      digest = argumentsDigest(r.arguments ?? {});
    } catch (error) {
      const path = error instanceof CanonicalJsonError ? error.path : '';
      throw invalid('invalid_value', (error as Error).message, `arguments${path}`);
    }
    if (r.argumentsDigest && r.argumentsDigest !== digest)
      throw invalid(
        'digest_mismatch',
        `argumentsDigest ${r.argumentsDigest} is not the digest of the arguments (${digest})`,
        'argumentsDigest',
      );
    const request = create(GateRequestedSchema, withRequestDefaults(r));
    request.arguments = r.arguments ?? {};
    request.argumentsDigest = digest;
    request.agentToken = agent.token;
    if (!request.requestProof)
      throw invalid(
        'missing_field',
        'a request proof is required (the Warden-Request-Proof header, or requestProof): a JWS by the key the agent token is bound to',
        'requestProof',
      );
    const proofProblem = requestProofProblem(request, agent.jkt);
    if (proofProblem) throw invalid('invalid_value', proofProblem, 'requestProof');
    return request;
  }

  /**
   * Publishes a prepared request and waits for its decision up to its deadline (capped by
   * GATEWAY_MAX_WAIT_MS), or, with `approvalWaitMs`, past a pending_approval for the final one.
   * No decision in time is a deny: never an allow.
   */
  async gate(
    request: GateRequested,
    opts: { traceparent?: string; approvalWaitMs?: number } = {},
  ): Promise<GateAnswer> {
    const now = this.now();
    const untilDeadline = Math.min(request.deadlineMs - now, this.rules.maxWaitMs);
    const waitMs = Math.min(Math.max(untilDeadline, opts.approvalWaitMs ?? 0), this.rules.maxWaitMs);
    const base = { requestId: request.requestId, stepId: request.stepId, idempotencyKey: request.idempotencyKey };
    if (untilDeadline <= 0)
      return { ...base, ...failClosed(`the deadline passed before the request was sent (fail closed)`) };
    const wantsFinal = (opts.approvalWaitMs ?? 0) > 0;
    const { decision, last } = await this.replies.await(
      request,
      request.requestId,
      waitMs,
      () => this.publish(Topic.gateRequests, request, request.requestId, opts.traceparent),
      (d) => d.final || !wantsFinal,
    );
    const got = decision ?? last;
    const answer = got
      ? { ...base, ...answerOf(got) }
      : { ...base, ...failClosed(`no decision within ${Math.max(0, untilDeadline)} ms (fail closed)`) };
    this.observe(answer.verdict, answer.timedOut, this.now() - now);
    return answer;
  }

  /** Checks an outcome (fields, agent, proof by the token's key) and publishes it to gate.outcomes. */
  async outcome(
    outcome: StepCompleted | StepFailed,
    agent: AuthenticatedAgent,
    proofHeader: string | undefined,
    traceparent?: string,
  ): Promise<{ eventId: string }> {
    outcome.tenantId ||= agent.claims.tenant;
    outcome.agentId ||= agent.claims.sub;
    if (outcome.tenantId !== agent.claims.tenant || outcome.agentId !== agent.claims.sub)
      throw forbidden(
        'wrong_agent',
        `the agent token is ${agent.claims.tenant}/${agent.claims.sub}'s, the outcome names ${outcome.tenantId}/${outcome.agentId}`,
      );
    if (proofHeader && outcome.outcomeProof && proofHeader !== outcome.outcomeProof)
      throw invalid('invalid_value', 'the Warden-Outcome-Proof header and outcomeProof differ', 'outcomeProof');
    outcome.outcomeProof ||= proofHeader ?? '';
    const problem = outcomeProblem(outcome);
    if (problem)
      throw invalid(problem.code, `invalid outcome (field ${problem.field}): ${problem.reason}`, problem.field);
    const proofProblem = outcomeProofProblem(outcome, agent.jkt);
    if (proofProblem) throw invalid('invalid_value', proofProblem, 'outcomeProof');
    const eventId = randomUUID();
    await this.publish(Topic.gateOutcomes, outcome, eventId, traceparent);
    return { eventId };
  }

  private async publish(
    topic: TopicName,
    data: GateRequested | StepCompleted | StepFailed,
    id: string,
    traceparent?: string,
  ) {
    const wire = encode(
      {
        id,
        type: data.$typeName,
        source: `agent://${encodeURIComponent(data.tenantId)}/${encodeURIComponent(data.agentId)}`,
        time: this.now(),
        key: data.runId,
        tenantId: data.tenantId,
        agentId: data.agentId,
        runId: data.runId,
        traceparent:
          traceparent && /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/.test(traceparent) ? traceparent : undefined,
        data,
      },
      'application/protobuf',
    );
    await this.port.publish([{ topic: topicName(this.prefix, topic), ...wire }]);
  }
}

function failClosed(reason: string): Omit<GateAnswer, 'requestId' | 'stepId' | 'idempotencyKey'> {
  return { verdict: 'deny', allowed: false, final: true, timedOut: true, reason, hints: [] };
}

function answerOf(d: GateDecided): Omit<GateAnswer, 'requestId' | 'stepId' | 'idempotencyKey'> {
  const verdict = VERDICTS[d.verdict] ?? 'deny';
  const approval = d.context?.approval;
  return {
    verdict,
    allowed: verdict === 'allow',
    final: d.final,
    timedOut: false,
    reason: d.reason,
    decisionId: d.decisionId || undefined,
    decisionToken: d.decisionToken || undefined,
    tokenExpiresAtMs: d.tokenExpiresAtMs || undefined,
    hints: [...d.hints],
    completedByRequestId: d.completedByRequestId || undefined,
    approvalTaskId: approval?.taskId || undefined,
    approvers: approval?.approvers.length ? [...approval.approvers] : undefined,
    decision: toJson(GateDecidedSchema, d, { registry: typeRegistry }),
  };
}

/** The outcome body: a StepCompleted or StepFailed in protobuf-JSON, told apart by `status`. */
export function decodeOutcome(body: unknown): StepCompleted | StepFailed {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('undecodable_data', 'the body must be a JSON object (Content-Type: application/json)');
  const { status, ...rest } = body as Record<string, unknown>;
  if (status === 'completed') return decodeBody<StepCompleted>(StepCompletedSchema, rest);
  if (status === 'failed') return decodeBody<StepFailed>(StepFailedSchema, rest);
  throw invalid(
    status === undefined ? 'missing_field' : 'invalid_value',
    'status must be "completed" or "failed"',
    'status',
  );
}
