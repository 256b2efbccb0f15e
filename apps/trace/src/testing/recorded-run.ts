import {
  EvaluationSchema,
  RiskClass,
  ToolActionSchema,
  ToolContractPublishedSchema,
  ToolContractSchema,
  ActionKind,
  AgentActivatedSchema,
  AgentProfileSchema,
  AgentRegisteredSchema,
  BudgetReleasedSchema,
  BudgetReservedSchema,
  BudgetSettledSchema,
  create,
  DecisionContextSchema,
  Envelope,
  GateDecided,
  GateDecidedSchema,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  Message,
  ReservationRefSchema,
  ScopeSchema,
  StateVersionsSchema,
  StepCompletedSchema,
  ToolGrantSchema,
  Topic,
  TopicName,
  Verdict,
} from '@warden/contracts';
import { EMPTY_POLICY_STATE, evaluate, evolvePolicyState, PolicyState } from '@warden/trace-domain';
import { GateEvent, RunRef } from './trace.harness';

/**
 * A recorded run as the services would have left it in Kafka: the agent registered and
 * activated, requests decided by the policy evaluation from the state their versions name, a
 * kill switch engaged half-way, and one decision that the policy did not make (recorded as
 * allowed although the kill switch it had applied covers it). Each request is told by the topics
 * of record: the budget stage's answer (the request embedded), the decision, and the budget
 * stage's settlement (the agent's accepted outcome on it) or its release after a deny; the
 * agent's raw gate.requests and gate.outcomes records are not part of it (docs/adr/0070).
 */
export function recordedRun(run: RunRef, t: number): { events: GateEvent[]; tamperedRequestId: string } {
  const events: GateEvent[] = [];
  const other = { tenantId: run.tenantId, agentId: run.agentId, runId: '' };
  const registry = [
    create(ToolContractPublishedSchema, {
      tenantId: run.tenantId,
      contract: create(ToolContractSchema, {
        tool: 'tickets',
        version: '1',
        definitionDigest: 'sha256:tickets-1',
        actions: [
          create(ToolActionSchema, { name: 'read', riskClass: RiskClass.LOW }),
          create(ToolActionSchema, { name: 'refund', riskClass: RiskClass.LOW }),
        ],
      }),
    }),
    create(AgentRegisteredSchema, {
      agentId: run.agentId,
      tenantId: run.tenantId,
      version: 1,
      profile: create(AgentProfileSchema, {
        // Low-risk tools are within its autonomy level (ADR 0013).
        autonomyLevel: 2,
        tools: [
          create(ToolGrantSchema, {
            tool: 'tickets',
            actions: ['*'],
            contractVersion: '1',
            definitionDigest: 'sha256:tickets-1',
          }),
        ],
      }),
    }),
    create(AgentActivatedSchema, { agentId: run.agentId, tenantId: run.tenantId, version: 2 }),
  ];
  const killSwitch = create(KillSwitchEngagedSchema, {
    switchId: `ks-${run.runId}`,
    scope: create(ScopeSchema, { tenantId: run.tenantId, agentId: run.agentId }),
    engagedBy: 'sam',
    reason: 'runaway refunds',
    engagedAtMs: t + 500,
  });
  registry.forEach((data, i) =>
    events.push({ topic: Topic.registryEvents, data, time: t + i, run: other, key: run.agentId }),
  );
  events.push({ topic: Topic.killswitchEvents, data: killSwitch, time: t + 500, run: other, key: killSwitch.switchId });

  const env = (data: Message, time: number): Envelope => ({
    id: `${data.$typeName}-${time}`,
    type: data.$typeName,
    source: 'test',
    time,
    key: '',
    tenantId: run.tenantId,
    agentId: run.agentId,
    runId: '',
    data,
  });
  const stateAt = (r: number, k: number): PolicyState => {
    let state = EMPTY_POLICY_STATE;
    registry.slice(0, r).forEach((e, i) => (state = evolvePolicyState(state, Topic.registryEvents, env(e, t + i))));
    if (k > 0) state = evolvePolicyState(state, Topic.killswitchEvents, env(killSwitch, t + 500));
    return state;
  };

  const step = (requestId: string, at: number, tool: string, r: number, k: number, tamper = false) => {
    const request = create(GateRequestedSchema, {
      requestId,
      ...run,
      stepId: `step-${requestId}`,
      attempt: 1,
      actionKind: ActionKind.TOOL_CALL,
      tool,
      action: 'refund',
      requestedAtMs: at,
      deadlineMs: at + 30_000,
      estimatedTokens: 5,
    });
    const skeleton = create(GateDecidedSchema, {
      decisionId: `d-${requestId}`,
      requestId,
      ...run,
      stepId: request.stepId,
      decidedAtMs: at + 3,
      request,
      final: true,
      context: create(DecisionContextSchema, {
        evaluations: [
          // The recorded policy accepted unsigned requests (agent tokens optional).
          create(EvaluationSchema, {
            policyId: 'warden.registry.signature',
            result: 'pass',
            reason: 'unsigned request accepted (agent tokens optional here)',
          }),
        ],
        reservation: create(ReservationRefSchema, {
          reservationId: `res-${requestId}`,
          granted: true,
          reservedTokens: 5,
        }),
        versions: create(StateVersionsSchema, {
          policyBundleVersion: 'builtin-2',
          registryOffset: r,
          killswitchOffset: k,
        }),
      }),
    });
    const made = evaluate('builtin-2', skeleton, stateAt(r, k))!;
    const decision: GateDecided = tamper
      ? { ...skeleton, verdict: Verdict.ALLOW, reason: 'all admission checks passed' }
      : { ...skeleton, verdict: made.verdict, reason: made.reason };
    const on = (topic: TopicName, data: Message, time: number): GateEvent => ({ topic, data, time, run });
    const reservationId = `res-${requestId}`;
    events.push(
      on(
        Topic.budgetReservations,
        create(BudgetReservedSchema, { reservationId, request, reservedTokens: 5, reservedAtMs: at + 1 }),
        at + 1,
      ),
      on(Topic.gateDecisions, decision, at + 3),
    );
    if (decision.verdict === Verdict.ALLOW) {
      const step = { requestId, ...run, stepId: request.stepId, idempotencyKey: request.idempotencyKey };
      events.push(
        on(
          Topic.budgetReservations,
          create(BudgetSettledSchema, {
            reservationId,
            ...step,
            actualTokens: 4,
            settledAtMs: at + 9,
            outcome: create(StepCompletedSchema, { ...step, actualTokens: 4, completedAtMs: at + 8 }),
          }),
          at + 9,
        ),
      );
    } else {
      events.push(
        on(
          Topic.budgetReservations,
          create(BudgetReleasedSchema, {
            reservationId,
            requestId,
            ...run,
            reason: `decision deny: ${decision.reason}`,
            releasedAtMs: at + 4,
          }),
          at + 4,
        ),
      );
    }
  };
  step('req-1', t + 100, 'tickets', 3, 0);
  step('req-2', t + 200, 'payments', 3, 0);
  step('req-3', t + 600, 'tickets', 3, 1);
  step('req-4', t + 700, 'tickets', 3, 1, true);
  return { events, tamperedRequestId: 'req-4' };
}
