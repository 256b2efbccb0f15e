import {
  ActiveSwitches,
  ApprovalDeniedSchema,
  ApprovalExpiredSchema,
  ApprovalGrantedSchema,
  ApprovalTaskOpenedSchema,
  create,
  DecisionContextSchema,
  EvaluationSchema,
  GateDecided,
  GateDecidedSchema,
  GateRequestedSchema,
  KillSwitchEngaged,
  KillSwitchEngagedSchema,
  RiskClass,
  ScopeSchema,
  Verdict,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { ApprovalTaskCommand, approvalTasks } from './approval-tasks';

const now = 1_700_000_000_000;
const ttlMs = 15 * 60_000;

const request = (requestId: string, tool = 'payments') =>
  create(GateRequestedSchema, {
    requestId,
    tenantId: 'acme',
    agentId: 'payroll-bot',
    runId: 'run-1',
    tool,
    action: 'transfer',
    argumentsDigest: `sha256:${requestId}`,
    agentToken: 'secret-token',
  });

const decision = (requestId: string, verdict = Verdict.PENDING_APPROVAL, tool = 'payments'): GateDecided =>
  create(GateDecidedSchema, {
    decisionId: `d-${requestId}`,
    requestId,
    tenantId: 'acme',
    agentId: 'payroll-bot',
    runId: 'run-1',
    verdict,
    reason: 'transfers above 10k need a human',
    decidedAtMs: now,
    final: verdict !== Verdict.PENDING_APPROVAL,
    request: request(requestId, tool),
    context: create(DecisionContextSchema, {
      riskScore: 72,
      riskClass: RiskClass.HIGH,
      evaluations: [
        create(EvaluationSchema, { policyId: 'warden.registry', version: 'builtin-1', result: 'pass', reason: 'ok' }),
        create(EvaluationSchema, {
          policyId: 'acme.payments',
          version: '3',
          result: 'require_approval',
          reason: 'amount 12000 > 10000',
        }),
      ],
    }),
  });

const opened = (requestId: string, taskId = `task-${requestId}`, tool = 'payments') =>
  create(ApprovalTaskOpenedSchema, {
    taskId,
    requestId,
    decisionId: `d-${requestId}`,
    request: create(GateRequestedSchema, { ...request(requestId, tool), agentToken: '' }),
    riskClass: RiskClass.HIGH,
    riskScore: 72,
    reasons: ['acme.payments: amount 12000 > 10000', 'transfers above 10k need a human'],
    openedAtMs: now,
    expiresAtMs: now + ttlMs,
  });

const openTask = (requestId: string, over: Partial<Extract<ApprovalTaskCommand, { type: 'OpenApprovalTask' }>> = {}) =>
  ({
    type: 'OpenApprovalTask',
    decision: decision(requestId),
    taskId: `task-${requestId}`,
    ttlMs,
    now,
    ...over,
  }) as const;

const engaged = (switchId: string, scope: { runId?: string; tool?: string; tenantId?: string }, at = now) =>
  create(KillSwitchEngagedSchema, {
    switchId,
    scope: create(ScopeSchema, scope),
    reason: 'runaway payments',
    engagedBy: 'sam',
    engagedAtMs: at,
  });
const switches = (...list: KillSwitchEngaged[]): ActiveSwitches => new Map(list.map((s) => [s.switchId, s]));

const killed = (requestId: string, switchId: string, scope: string, at: number) =>
  create(ApprovalDeniedSchema, {
    taskId: `task-${requestId}`,
    requestId,
    runId: 'run-1',
    deniedBy: `killswitch:${switchId}`,
    comment: `kill switch ${switchId} (${scope}) engaged by sam: runaway payments`,
    deniedAtMs: at,
  });

describe('approval tasks decider (stream = run id)', () => {
  it('opens a task from a pending decision: request without token, risk, reasons, expiry', () => {
    given(approvalTasks)
      .when(openTask('r1'))
      .then([opened('r1')]);
  });

  it('opens nothing for a second pending decision of the same request', () => {
    given(approvalTasks, [opened('r1')])
      .when(openTask('r1', { taskId: 'another-task' }))
      .then([]);
    const expired = create(ApprovalExpiredSchema, { taskId: 'task-r1', requestId: 'r1', runId: 'run-1' });
    given(approvalTasks, [opened('r1'), expired])
      .when(openTask('r1', { taskId: 'another-task' }))
      .then([]);
  });

  it('refuses to open a task from a decision that is not pending, has no request, or with no ttl', () => {
    const refused = given(approvalTasks)
      .when(openTask('r1', { decision: decision('r1', Verdict.ALLOW) }))
      .thenThrows('invalid', 'not_pending_approval');
    expect(refused.field).toBe('verdict');
    given(approvalTasks)
      .when(openTask('r1', { decision: create(GateDecidedSchema, { ...decision('r1'), request: undefined }) }))
      .thenThrows('invalid', 'request_missing');
    given(approvalTasks)
      .when(openTask('r1', { ttlMs: 0 }))
      .thenThrows('invalid', 'invalid_ttl');
  });

  it('expires every open task whose expiry has passed, and only those', () => {
    const later = create(ApprovalTaskOpenedSchema, { ...opened('r2'), expiresAtMs: now + 2 * ttlMs });
    given(approvalTasks, [opened('r1'), later])
      .when({ type: 'ExpireApprovalTasks', now: now + ttlMs })
      .then([
        create(ApprovalExpiredSchema, { taskId: 'task-r1', requestId: 'r1', runId: 'run-1', expiredAtMs: now + ttlMs }),
      ]);
    given(approvalTasks, [opened('r1')])
      .when({ type: 'ExpireApprovalTasks', now: now + ttlMs - 1 })
      .then([]);
  });

  it('never expires a task that is already resolved', () => {
    const denied = killed('r1', 'ks-1', 'runId=run-1', now + 1);
    given(approvalTasks, [opened('r1'), denied])
      .when({ type: 'ExpireApprovalTasks', now: now + 2 * ttlMs })
      .then([]);
  });

  it('denies every open task a kill switch covers, naming the switch and its reason', () => {
    given(approvalTasks, [opened('r1'), opened('r2')])
      .when({ type: 'DenyApprovalTasksInScope', switches: switches(engaged('ks-1', { runId: 'run-1' })), now: now + 5 })
      .then([killed('r1', 'ks-1', 'runId=run-1', now + 5), killed('r2', 'ks-1', 'runId=run-1', now + 5)]);
  });

  it('denies by the oldest covering switch, and leaves tasks no switch covers open', () => {
    const history = [opened('r1'), opened('r2', 'task-r2', 'email')];
    given(approvalTasks, history)
      .when({
        type: 'DenyApprovalTasksInScope',
        switches: switches(
          engaged('ks-new', { tool: 'payments' }, now + 2),
          engaged('ks-old', { tool: 'payments' }, now + 1),
        ),
        now: now + 5,
      })
      .then([killed('r1', 'ks-old', 'tool=payments', now + 5)]);
    given(approvalTasks, history)
      .when({ type: 'DenyApprovalTasksInScope', switches: switches(engaged('ks-x', { runId: 'run-2' })), now: now + 5 })
      .then([]);
  });

  it('ignores switches that expired', () => {
    const expiredSwitch = create(KillSwitchEngagedSchema, { ...engaged('ks-1', {}), expiresAtMs: now + 3 });
    given(approvalTasks, [opened('r1')])
      .when({ type: 'DenyApprovalTasksInScope', switches: switches(expiredSwitch), now: now + 5 })
      .then([]);
  });

  describe('reacting to a gate decision of the run', () => {
    const react = (d: GateDecided, at: number, active: ActiveSwitches = new Map()): ApprovalTaskCommand => ({
      type: 'ReactToGateDecision',
      decision: d,
      taskId: `task-${d.requestId}`,
      ttlMs,
      switches: active,
      now: at,
    });

    it('opens a task for a pending decision and does nothing for a final one', () => {
      given(approvalTasks)
        .when(react(decision('r1'), now))
        .then([opened('r1')]);
      given(approvalTasks)
        .when(react(decision('r1', Verdict.ALLOW), now))
        .then([]);
    });

    it('first expires overdue tasks, then opens the new one', () => {
      const at = now + ttlMs;
      given(approvalTasks, [opened('r1')])
        .when(react(decision('r2'), at))
        .then([
          create(ApprovalExpiredSchema, { taskId: 'task-r1', requestId: 'r1', runId: 'run-1', expiredAtMs: at }),
          create(ApprovalTaskOpenedSchema, { ...opened('r2'), openedAtMs: at, expiresAtMs: at + ttlMs }),
        ]);
    });

    it('denies the open tasks when a kill switch covers the run, including one it just opened', () => {
      const active = switches(engaged('ks-1', { runId: 'run-1' }));
      given(approvalTasks, [opened('r1')])
        .when(react(decision('r2', Verdict.DENY), now + 5, active))
        .then([killed('r1', 'ks-1', 'runId=run-1', now + 5)]);
      given(approvalTasks)
        .when(react(decision('r1'), now, active))
        .then([opened('r1'), killed('r1', 'ks-1', 'runId=run-1', now)]);
    });
  });

  describe('evolve', () => {
    it('is idempotent: a replayed or stray event leaves the state as it is', () => {
      const state = given(approvalTasks, [opened('r1')]).state;
      expect(approvalTasks.evolve(state, opened('r1', 'other-task'))).toBe(state);
      const denied = killed('r1', 'ks-1', 'global', now + 1);
      const after = approvalTasks.evolve(state, denied);
      expect(after.tasks.get('r1')?.status).toBe('denied');
      expect(approvalTasks.evolve(after, denied)).toBe(after);
      expect(approvalTasks.evolve(after, create(ApprovalExpiredSchema, { taskId: 'task-r1', requestId: 'r1' }))).toBe(
        after,
      );
      expect(approvalTasks.evolve(state, create(ApprovalGrantedSchema, { taskId: 'wrong', requestId: 'r1' }))).toBe(
        state,
      );
      expect(approvalTasks.evolve(state, create(ApprovalGrantedSchema, { taskId: 'x', requestId: 'unknown' }))).toBe(
        state,
      );
    });

    it('records a grant', () => {
      const granted = create(ApprovalGrantedSchema, { taskId: 'task-r1', requestId: 'r1', approvedBy: 'ann' });
      const state = given(approvalTasks, [opened('r1'), granted]).state;
      expect(state.tasks.get('r1')).toEqual({ status: 'granted', opened: opened('r1'), granted });
    });
  });
});
