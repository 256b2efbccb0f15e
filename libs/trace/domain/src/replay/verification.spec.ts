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
  BudgetSettledSchema,
  create,
  DecisionContextSchema,
  Envelope,
  GateDecided,
  GateDecidedSchema,
  GateRequestedSchema,
  StepCompletedSchema,
  TablePositionSchema,
  KillSwitchEngagedSchema,
  Message,
  ReservationRefSchema,
  ScopeSchema,
  StateVersionsSchema,
  ToolGrantSchema,
  Topic,
  TopicName,
  Verdict,
} from '@warden/contracts';
import { emptyActivity, EMPTY_POLICY_STATE, evaluate, evolvePolicyState, foldActivity } from './evaluator';
import { LoggedEvent, verifyDecisions } from './verification';

const T = 1_800_000_000_000;
const env = (data: Message, time = T): Envelope => ({
  id: `${data.$typeName}-${time}`,
  type: data.$typeName,
  source: 'test',
  time,
  key: 'k',
  tenantId: 'acme',
  agentId: 'bot',
  runId: '',
  data,
});
const registry = [
  env(
    create(ToolContractPublishedSchema, {
      tenantId: 'acme',
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
  ),
  env(
    create(AgentRegisteredSchema, {
      agentId: 'bot',
      tenantId: 'acme',
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
  ),
  env(create(AgentActivatedSchema, { agentId: 'bot', tenantId: 'acme', version: 2 })),
];
const switches = [
  env(
    create(KillSwitchEngagedSchema, {
      switchId: 'ks-1',
      scope: create(ScopeSchema, { agentId: 'bot' }),
      engagedBy: 'sam',
      reason: 'runaway',
      engagedAtMs: T + 50,
    }),
    T + 50,
  ),
];
/** The state topics as one-partition logs (offset = position). */
const logged = (events: Envelope[]) => events.map((event, offset) => ({ event, partition: 0, offset }));
const log = new Map<TopicName, LoggedEvent[]>([
  [Topic.registryEvents, logged(registry)],
  [Topic.killswitchEvents, logged(switches)],
]);

/** What the policy decided with the first `r` registry and `k` kill-switch events applied. */
function decided(requestId: string, at: number, r: number, k: number, tool = 'tickets'): GateDecided {
  const request = create(GateRequestedSchema, {
    requestId,
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    actionKind: ActionKind.TOOL_CALL,
    tool,
    action: 'read',
    requestedAtMs: at - 1,
    deadlineMs: at + 30_000,
  });
  const skeleton = create(GateDecidedSchema, {
    decisionId: `d-${requestId}`,
    requestId,
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    decidedAtMs: at,
    request,
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
        reservedTokens: 1,
      }),
      versions: create(StateVersionsSchema, {
        policyBundleVersion: 'builtin-2',
        registryOffset: r,
        killswitchOffset: k,
      }),
    }),
  });
  let state = EMPTY_POLICY_STATE;
  for (const e of registry.slice(0, r)) state = evolvePolicyState(state, Topic.registryEvents, e);
  for (const e of switches.slice(0, k)) state = evolvePolicyState(state, Topic.killswitchEvents, e);
  const made = evaluate('builtin-2', skeleton, state)!;
  return { ...skeleton, verdict: made.verdict, reason: made.reason };
}

describe('replay verification', () => {
  const allowed = decided('r1', T + 10, 3, 0);
  const killed = decided('r2', T + 100, 3, 1);
  const notGranted = decided('r4', T + 120, 3, 0, 'deploy');
  // Recorded as allowed although the kill switch it had applied covers it: a decision that differs.
  const tampered = { ...decided('r3', T + 110, 3, 1), verdict: Verdict.ALLOW, reason: 'all admission checks passed' };
  const recorded = [allowed, killed, tampered, notGranted].map((decision, i) => ({
    decision,
    source: `gate.decisions:0:${i}`,
  }));
  const scope = { tenantId: 'acme', runId: 'run-1' };
  const exactTopics = new Set<TopicName>([Topic.registryEvents, Topic.killswitchEvents, Topic.policyEvents]);

  it('reproduces every honest decision from the state its versions name, and reports the one that differs', () => {
    expect([allowed, killed, notGranted].map((d) => Verdict[d.verdict])).toEqual(['ALLOW', 'DENY', 'DENY']);
    const report = verifyDecisions(scope, recorded, log, { exactTopics });
    expect(report).toMatchObject({ mode: 'recorded', checked: 4, same: 3, different: 1, notReplayable: 0 });
    expect(report.differences).toEqual([
      expect.objectContaining({
        requestId: 'r3',
        source: 'gate.decisions:0:2',
        recorded: { verdict: 'allow', reason: 'all admission checks passed', bundleVersion: 'builtin-2' },
        replayed: expect.objectContaining({
          verdict: 'deny',
          reason: 'kill switch ks-1 (agentId=bot, stop_run) engaged by sam: runaway',
        }),
        state: { 'registry.events': 3, 'killswitch.events': 1, 'policy.events': 0, activity: 0, exact: true },
        outcome: 'different',
      }),
    ]);
  });

  it('marks the state approximate when a state topic has several partitions', () => {
    const report = verifyDecisions(scope, recorded.slice(0, 1), log, { exactTopics: new Set([Topic.registryEvents]) });
    expect(report.decisions[0].state.exact).toBe(false);
  });

  it('what-if: re-evaluates every decision with a chosen bundle, and says when there is no such evaluator', () => {
    expect(verifyDecisions(scope, recorded, log, { whatIf: 'builtin-2', exactTopics })).toMatchObject({
      mode: 'what_if',
      bundleVersion: 'builtin-2',
      different: 1,
    });
    const unknown = verifyDecisions(scope, recorded, log, { whatIf: 'v-nope', exactTopics });
    expect(unknown).toMatchObject({ checked: 4, notReplayable: 4 });
    expect(unknown.decisions[0].note).toBe('no evaluator for bundle v-nope');
  });

  it('cannot replay a decision that does not carry its request', () => {
    const report = verifyDecisions(scope, [{ decision: { ...allowed, request: undefined }, source: 's' }], log, {
      exactTopics,
    });
    expect(report.decisions[0]).toMatchObject({ outcome: 'not_replayable', replayed: null });
  });

  it('replays with the run’s own earlier decisions: a repeated request id gets the run’s first answer', () => {
    // r1 again after the kill switch: the gate answered with r1's earlier decision, not a new one.
    const repeated = { ...decided('r1', T + 130, 3, 1), verdict: allowed.verdict, reason: allowed.reason };
    const report = verifyDecisions(
      scope,
      [allowed, repeated].map((decision, i) => ({ decision, source: `gate.decisions:0:${i}` })),
      log,
      { exactTopics },
    );
    expect(report).toMatchObject({ checked: 2, same: 2, different: 0 });
  });

  it('says an approval’s resolution is not replayed, instead of reporting it as a difference', () => {
    const pending = { ...allowed, verdict: Verdict.PENDING_APPROVAL, reason: 'needs approval', final: false };
    const resolution = { ...allowed, decisionId: 'd-r1-approved', final: true, reason: 'approved by ana' };
    const report = verifyDecisions(
      scope,
      [pending, resolution].map((decision, i) => ({ decision, source: `gate.decisions:0:${i}` })),
      log,
      { exactTopics },
    );
    expect(report.decisions[1]).toMatchObject({ requestId: 'r1', outcome: 'not_replayable', replayed: null });
    expect(report.decisions[1].note).toMatch(/^resolves an approval/);
  });

  it('replays with the tenant’s activity before each decision: a key completed in another run', () => {
    // The budget stage's settlement of the other run's step, carrying the report it accepted.
    const ids = { requestId: 'r-other', idempotencyKey: 'refund-7', tenantId: 'acme', agentId: 'bot', runId: 'run-0' };
    const completed = env(
      create(BudgetSettledSchema, {
        ...ids,
        reservationId: 'res-r-other',
        settledAtMs: T + 5,
        outcome: create(StepCompletedSchema, { ...ids, completedAtMs: T + 4 }),
      }),
      T + 5,
    );
    // The agent's own report (on gate.outcomes, which trace does not read) would complete nothing.
    const reported = env(create(StepCompletedSchema, { ...ids, completedAtMs: T + 4 }), T + 4);
    expect(foldActivity(emptyActivity(), reported).completions.size).toBe(0);
    const base = decided('r5', T + 20, 3, 0);
    const retry = { ...base, request: { ...base.request!, idempotencyKey: 'refund-7' } };
    const made = evaluate('builtin-2', retry, stateWith(3), undefined, foldActivity(emptyActivity(), completed))!;
    const recordedRetry = { ...retry, verdict: made.verdict, reason: made.reason };
    expect(Verdict[made.verdict]).toBe('ALREADY_COMPLETED');
    const input = [{ decision: recordedRetry, source: 'gate.decisions:0:0' }];
    const withActivity = verifyDecisions(scope, input, log, { exactTopics, activity: [completed] });
    expect(withActivity).toMatchObject({ same: 1, different: 0 });
    expect(withActivity.decisions[0].state).toMatchObject({ activity: 1, exact: true });
    // Without the activity (and with no completion in the record) the replay cannot know it.
    expect(verifyDecisions(scope, input, log, { exactTopics })).toMatchObject({ same: 0, different: 1 });
  });

  it('applies exactly the events a decision’s positions name, across partitions, and says so', () => {
    // Two switches on two partitions: B (another agent, earlier) on 0, A (this agent) on 1.
    const other = env(
      create(KillSwitchEngagedSchema, {
        switchId: 'ks-b',
        scope: create(ScopeSchema, { agentId: 'someone-else' }),
        engagedBy: 'sam',
        reason: 'other',
        engagedAtMs: T + 40,
      }),
      T + 40,
    );
    const twoPartitions = new Map<TopicName, LoggedEvent[]>([
      [Topic.registryEvents, logged(registry)],
      [
        Topic.killswitchEvents,
        [
          { event: other, partition: 0, offset: 0 },
          { event: switches[0], partition: 1, offset: 0 },
        ],
      ],
    ]);
    // The policy had applied partition 1 (switch A) but not yet partition 0 (switch B).
    const killed = decided('r6', T + 60, 3, 1);
    const positioned = {
      ...killed,
      context: {
        ...killed.context!,
        versions: {
          ...killed.context!.versions!,
          positions: [
            create(TablePositionSchema, { topic: Topic.registryEvents, nextOffsets: [3] }),
            create(TablePositionSchema, { topic: Topic.killswitchEvents, nextOffsets: [0, 1] }),
          ],
        },
      },
    };
    const several = new Set<TopicName>([Topic.registryEvents, Topic.policyEvents]);
    const exact = verifyDecisions(scope, [{ decision: positioned, source: 's' }], twoPartitions, {
      exactTopics: several,
    });
    expect(exact).toMatchObject({ same: 1, different: 0 });
    expect(exact.decisions[0].state).toMatchObject({ 'killswitch.events': 1, exact: true });
    // By count alone (decisions recorded before positions), the first event in time is B: wrong, and not exact.
    const counted = verifyDecisions(scope, [{ decision: killed, source: 's' }], twoPartitions, {
      exactTopics: several,
    });
    expect(counted).toMatchObject({ same: 0, different: 1 });
    expect(counted.decisions[0].state.exact).toBe(false);
  });

  it('replays an approval the budget asked for (a threshold), from the recorded reservation', () => {
    const base = decided('r7', T + 20, 3, 0);
    const asked = {
      ...base,
      context: {
        ...base.context!,
        reservation: { ...base.context!.reservation!, approvalRequired: true, approvalReason: '80% of the run budget' },
      },
    };
    const made = evaluate('builtin-2', asked, stateWith(3))!;
    expect(Verdict[made.verdict]).toBe('PENDING_APPROVAL');
    const recordedAsk = { ...asked, verdict: made.verdict, reason: made.reason };
    expect(verifyDecisions(scope, [{ decision: recordedAsk, source: 's' }], log, { exactTopics })).toMatchObject({
      same: 1,
      different: 0,
    });
  });
});

function stateWith(registryEvents: number) {
  let state = EMPTY_POLICY_STATE;
  for (const e of registry.slice(0, registryEvents)) state = evolvePolicyState(state, Topic.registryEvents, e);
  return state;
}
