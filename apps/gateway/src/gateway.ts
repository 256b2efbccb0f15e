import { randomUUID } from 'node:crypto';
import { encode, GateRequested, StepCompleted, StepFailed, Topic, TopicName, topicName } from '@warden/contracts';
import {
  AuthenticatedAgent,
  decisionAnswer,
  failClosedAnswer,
  GateAnswer,
  prepareGateRequest,
  prepareOutcome,
  VerdictName,
} from '@warden/gateway-domain';
import { KafkaPort } from '@warden/platform';
import { ReplyRouter } from './replies';

export type { GateAnswer, VerdictName } from '@warden/gateway-domain';

export interface GatewayRules {
  readonly maxDeadlineMs: number;
  readonly maxWaitMs: number;
}

/**
 * The gateway's one job: turn an authenticated HTTP call into what an agent would publish on Kafka
 * (docs/protocol.md) and its decision into an HTTP answer. The request is the client's, proved by
 * the client's key (ADR 0119): the gateway checks everything the gate will check before it
 * publishes (libs/gateway/domain), so a bad call is a 4xx at once, and the gate checks it all again.
 */
export class Gateway {
  constructor(
    private readonly port: KafkaPort,
    private readonly replies: ReplyRouter,
    private readonly prefix: string,
    readonly rules: GatewayRules,
    private readonly now: () => number = Date.now,
    private readonly observe: (verdict: VerdictName, timedOut: boolean, ms: number) => void = () => undefined,
  ) {}

  /** The request as it will be published, checked (prepareGateRequest). Throws 400/403 problems. */
  prepareRequest(sent: GateRequested, agent: AuthenticatedAgent, proofHeader: string | undefined): GateRequested {
    return prepareGateRequest(sent, agent, proofHeader, this.rules);
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
      return failClosedAnswer(base, `the deadline passed before the request was sent (fail closed)`);
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
      ? decisionAnswer(base, got)
      : failClosedAnswer(base, `no decision within ${Math.max(0, untilDeadline)} ms (fail closed)`);
    this.observe(answer.verdict, answer.timedOut, this.now() - now);
    return answer;
  }

  /** Checks an outcome (fields, agent, proof by the token's key) and publishes it to gate.outcomes. */
  async outcome(
    sent: StepCompleted | StepFailed,
    agent: AuthenticatedAgent,
    proofHeader: string | undefined,
    traceparent?: string,
  ): Promise<{ eventId: string }> {
    const outcome = prepareOutcome(sent, agent, proofHeader);
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
