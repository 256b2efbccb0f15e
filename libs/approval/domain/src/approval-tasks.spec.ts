import {
  ActiveSwitches,
  ApprovalDeniedSchema,
  ApprovalEscalatedSchema,
  ApprovalExclusionSchema,
  ApprovalExpiredSchema,
  ApprovalGrantedSchema,
  ApprovalNotificationRequestedSchema,
  ApprovalTaskOpenedSchema,
  ApprovalVoteRecordedSchema,
  ApprovalVoteRejectedSchema,
  ApprovalRefSchema,
  CastApprovalVoteSchema,
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
  StandingApprovalUsedSchema,
  StateVersionsSchema,
  Verdict,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { ApprovalRules, taskTtlOf } from './approval-rules';
import { ApprovalTaskCommand, approvalTasks, checkVote, taskOf } from './approval-tasks';
import { TaskContext } from './task-context';
import { IdentityLinks } from './identity';

const now = 1_700_000_000_000;
const ttlMs = 15 * 60_000;
const rules: ApprovalRules = {
  taskTtlMs: ttlMs,
  escalateAfterMs: 5 * 60_000,
  escalateTo: ['admin'],
  grantTtlMs: 60_000,
  quorum: new Map([[RiskClass.CRITICAL, 2]]),
  separationOfDuties: new Set([RiskClass.HIGH, RiskClass.CRITICAL]),
};
const context: TaskContext = {
  diff: '{"amount":12000}',
  blastRadius: '["acct-1","acct-2"]',
  rollbackPath: 'reverse the transfer in the ledger',
  ownerTeam: 'payments',
  ownerContact: 'olga',
  toolContractVersion: '2.0.0',
  registrant: 'alice',
  approvalTtlMs: 0,
};
const exclusions = [
  create(ApprovalExclusionSchema, { identity: 'rita', reason: 'requester' }),
  create(ApprovalExclusionSchema, { identity: 'olga', reason: 'owner_contact' }),
  create(ApprovalExclusionSchema, { identity: 'alice', reason: 'registrant' }),
];

const request = (requestId: string, tool = 'payments') =>
  create(GateRequestedSchema, {
    requestId,
    tenantId: 'acme',
    agentId: 'payroll-bot',
    runId: 'run-1',
    tool,
    action: 'transfer',
    argumentsDigest: `sha256:${requestId}`,
    onBehalfOf: 'rita',
    agentToken: 'secret-token',
  });

const decision = (requestId: string, verdict = Verdict.PENDING_APPROVAL, riskClass = RiskClass.HIGH): GateDecided =>
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
    request: request(requestId),
    context: create(DecisionContextSchema, {
      riskScore: 72,
      riskClass,
      versions: create(StateVersionsSchema, { policyBundleVersion: 'acme@7' }),
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

const opened = (
  requestId: string,
  over: Partial<Omit<ReturnType<typeof create<typeof ApprovalTaskOpenedSchema>>, '$typeName'>> = {},
) =>
  create(ApprovalTaskOpenedSchema, {
    taskId: `task-${requestId}`,
    requestId,
    decisionId: `d-${requestId}`,
    request: create(GateRequestedSchema, { ...request(requestId), agentToken: '' }),
    riskClass: RiskClass.HIGH,
    riskScore: 72,
    reasons: ['acme.payments: amount 12000 > 10000', 'transfers above 10k need a human'],
    diff: context.diff,
    blastRadius: context.blastRadius,
    rollbackPath: context.rollbackPath,
    openedAtMs: now,
    expiresAtMs: now + ttlMs,
    policyVersion: 'acme@7',
    ownerTeam: 'payments',
    ownerContact: 'olga',
    approvalsRequired: 1,
    excludedApprovers: ['rita', 'olga', 'alice'],
    exclusions,
    escalateAtMs: now + rules.escalateAfterMs,
    toolContractVersion: '2.0.0',
    ...over,
  });
const critical = (requestId: string) => opened(requestId, { riskClass: RiskClass.CRITICAL, approvalsRequired: 2 });

const notified = (requestId: string, kind: string, recipients: string[], summary: string, at: number) =>
  create(ApprovalNotificationRequestedSchema, {
    notificationId: `task-${requestId}:${kind}`,
    taskId: `task-${requestId}`,
    requestId,
    runId: 'run-1',
    tenantId: 'acme',
    kind,
    recipients,
    summary,
    riskClass: RiskClass.HIGH,
    requestedAtMs: at,
  });
const owners = ['team:payments', 'contact:olga'];
const what = 'payments.transfer by agent payroll-bot (high)';

const engaged = (switchId: string, scope: { runId?: string; tool?: string; tenantId?: string }, at = now) =>
  create(KillSwitchEngagedSchema, {
    switchId,
    scope: create(ScopeSchema, scope),
    reason: 'runaway payments',
    engagedBy: 'sam',
    engagedAtMs: at,
  });
const switches = (...list: KillSwitchEngaged[]): ActiveSwitches => new Map(list.map((s) => [s.switchId, s]));
const none: ActiveSwitches = new Map();

const killed = (requestId: string, switchId: string, scope: string, at: number) => {
  const comment = `kill switch ${switchId} (${scope}) engaged by sam: runaway payments`;
  return [
    create(ApprovalDeniedSchema, {
      taskId: `task-${requestId}`,
      requestId,
      runId: 'run-1',
      deniedBy: `killswitch:${switchId}`,
      comment,
      deniedAtMs: at,
    }),
    notified(requestId, 'denied', owners, `approval denied: ${what}: ${comment}`, at),
  ];
};
const expiredAt = (requestId: string, at: number) => [
  create(ApprovalExpiredSchema, { taskId: `task-${requestId}`, requestId, runId: 'run-1', expiredAtMs: at }),
  notified(requestId, 'expired', owners, `approval expired (denied): ${what}`, at),
];

const openTask = (requestId: string, over: Partial<Extract<ApprovalTaskCommand, { type: 'OpenApprovalTask' }>> = {}) =>
  ({
    type: 'OpenApprovalTask',
    decision: decision(requestId),
    taskId: `task-${requestId}`,
    context,
    rules,
    now,
    ...over,
  }) as const;

const vote = (
  requestId: string,
  voter: string,
  approve = true,
  over: Partial<Omit<ReturnType<typeof create<typeof CastApprovalVoteSchema>>, '$typeName'>> = {},
) =>
  create(CastApprovalVoteSchema, {
    voteId: `v-${voter}`,
    taskId: `task-${requestId}`,
    runId: 'run-1',
    tenantId: 'acme',
    voter,
    roles: ['approver'],
    approve,
    comment: `${voter} looked`,
    argumentsDigest: `sha256:${requestId}`,
    castAtMs: now + 10,
    ...over,
  });
const cast = (
  v: ReturnType<typeof vote>,
  at = now + 10,
  active = none,
  links: IdentityLinks = [],
): ApprovalTaskCommand => ({
  type: 'CastVote',
  vote: v,
  switches: active,
  rules,
  now: at,
  links,
});
const rejected = (v: ReturnType<typeof vote>, code: string, reason: string, at = now + 10) =>
  create(ApprovalVoteRejectedSchema, {
    taskId: v.taskId,
    runId: 'run-1',
    voteId: v.voteId,
    voter: v.voter,
    code,
    reason,
    rejectedAtMs: at,
  });

describe('approval tasks decider (stream = run id)', () => {
  describe('open', () => {
    it('given a pending decision, when it opens, then the task carries request, context, binding and rules, and approvers are told', () => {
      given(approvalTasks)
        .when(openTask('r1'))
        .then([
          opened('r1'),
          notified(
            'r1',
            'opened',
            ['role:approver', ...owners],
            `approval needed: ${what}: acme.payments: amount 12000 > 10000; transfers above 10k need a human`,
            now,
          ),
        ]);
    });

    it('needs the quorum of the risk class, and excludes nobody where separation of duties does not apply', () => {
      const [o] = given(approvalTasks)
        .when(openTask('r1', { decision: decision('r1', Verdict.PENDING_APPROVAL, RiskClass.CRITICAL) }))
        .thenEvents();
      expect(o).toMatchObject({ approvalsRequired: 2, excludedApprovers: ['rita', 'olga', 'alice'] });
      const [low] = given(approvalTasks)
        .when(openTask('r1', { decision: decision('r1', Verdict.PENDING_APPROVAL, RiskClass.LOW) }))
        .thenEvents();
      expect(low).toMatchObject({ approvalsRequired: 1, excludedApprovers: [], exclusions: [] });
      const [never] = given(approvalTasks)
        .when(openTask('r1', { rules: { ...rules, escalateAfterMs: 0 } }))
        .thenEvents();
      expect(never).toMatchObject({ escalateAtMs: 0 });
    });

    it("expiry: the contract action's TTL, else the TTL of the risk class, else the default", () => {
      const byClass: ApprovalRules = {
        ...rules,
        taskTtlByRiskClass: new Map([
          [RiskClass.CRITICAL, 86_400_000],
          [RiskClass.LOW, 60_000],
        ]),
      };
      const expiresIn = (riskClass: RiskClass, r: ApprovalRules, approvalTtlMs = 0) => {
        const [o] = given(approvalTasks)
          .when(
            openTask('r1', {
              decision: decision('r1', Verdict.PENDING_APPROVAL, riskClass),
              context: { ...context, approvalTtlMs },
              rules: r,
            }),
          )
          .thenEvents();
        return (o as ReturnType<typeof opened>).expiresAtMs - now;
      };
      expect(expiresIn(RiskClass.CRITICAL, byClass)).toBe(86_400_000);
      expect(expiresIn(RiskClass.LOW, byClass)).toBe(60_000);
      // A class the rules do not list, and rules without TTLs by class: APPROVAL_TASK_TTL_MS.
      expect(expiresIn(RiskClass.HIGH, byClass)).toBe(ttlMs);
      expect(expiresIn(RiskClass.CRITICAL, rules)).toBe(ttlMs);
      // The action's own TTL wins over both.
      expect(expiresIn(RiskClass.CRITICAL, byClass, 7_200_000)).toBe(7_200_000);
      expect(expiresIn(RiskClass.HIGH, rules, 30_000)).toBe(30_000);
      expect(taskTtlOf(byClass, RiskClass.MEDIUM, 0)).toBe(ttlMs);
    });

    it('expiry by class is recorded when the task opens: the review expires it then, not at the default', () => {
      const short: ApprovalRules = { ...rules, taskTtlByRiskClass: new Map([[RiskClass.HIGH, 1000]]) };
      const events = given(approvalTasks)
        .when(openTask('r1', { rules: short }))
        .thenEvents();
      const [expired] = given(approvalTasks, events)
        .when({ type: 'ExpireApprovalTasks', now: now + 1000 })
        .thenEvents();
      expect(expired).toMatchObject({ $typeName: 'warden.approval.v1.ApprovalExpired', expiredAtMs: now + 1000 });
      given(approvalTasks, events)
        .when({ type: 'ExpireApprovalTasks', now: now + 999 })
        .then([]);
    });

    it('opens nothing for a second pending decision of the same request', () => {
      given(approvalTasks, [opened('r1')])
        .when(openTask('r1', { taskId: 'another-task' }))
        .then([]);
    });

    it('refuses a decision that is not pending, has no request, or rules without a ttl', () => {
      const refused = given(approvalTasks)
        .when(openTask('r1', { decision: decision('r1', Verdict.ALLOW) }))
        .thenThrows('invalid', 'not_pending_approval');
      expect(refused.field).toBe('verdict');
      given(approvalTasks)
        .when(openTask('r1', { decision: create(GateDecidedSchema, { ...decision('r1'), request: undefined }) }))
        .thenThrows('invalid', 'request_missing');
      given(approvalTasks)
        .when(openTask('r1', { rules: { ...rules, taskTtlMs: 0 } }))
        .thenThrows('invalid', 'invalid_ttl');
    });
  });

  describe('approve and deny', () => {
    it('given an open high task, when an approver approves, then it is granted, bound to digest, policy version and an expiry', () => {
      given(approvalTasks, [opened('r1')])
        .when(cast(vote('r1', 'ann')))
        .then([
          create(ApprovalGrantedSchema, {
            taskId: 'task-r1',
            requestId: 'r1',
            runId: 'run-1',
            voteId: 'v-ann',
            argumentsDigest: 'sha256:r1',
            approvedBy: 'ann',
            comment: 'ann looked',
            grantedAtMs: now + 10,
            policyVersion: 'acme@7',
            expiresAtMs: now + 10 + rules.grantTtlMs,
            approvers: ['ann'],
          }),
          notified('r1', 'granted', owners, `approval granted by ann: ${what}`, now + 10),
        ]);
    });

    it('given an open task, when an approver denies, then it is denied by that approver', () => {
      given(approvalTasks, [opened('r1')])
        .when(cast(vote('r1', 'ann', false)))
        .then([
          create(ApprovalDeniedSchema, {
            taskId: 'task-r1',
            requestId: 'r1',
            runId: 'run-1',
            voteId: 'v-ann',
            deniedBy: 'ann',
            comment: 'ann looked',
            deniedAtMs: now + 10,
          }),
          notified('r1', 'denied', owners, `approval denied by ann: ${what}`, now + 10),
        ]);
    });

    it('quorum: a critical task needs two distinct approvers; the first vote is recorded, the second grants', () => {
      const first = given(approvalTasks, [critical('r1')])
        .when(cast(vote('r1', 'ann')))
        .then([
          create(ApprovalVoteRecordedSchema, {
            taskId: 'task-r1',
            requestId: 'r1',
            runId: 'run-1',
            voteId: 'v-ann',
            voter: 'ann',
            comment: 'ann looked',
            recordedAtMs: now + 10,
            approvals: 1,
            approvalsRequired: 2,
          }),
        ]);
      const [granted] = given(approvalTasks, [critical('r1'), ...first])
        .when(cast(vote('r1', 'bob'), now + 20))
        .thenEvents();
      expect(granted).toMatchObject({
        $typeName: 'warden.approval.v1.ApprovalGranted',
        approvers: ['ann', 'bob'],
        approvedBy: 'bob',
      });
      // One vote per approver: ann cannot make up the quorum alone.
      given(approvalTasks, [critical('r1'), ...first])
        .when(cast(vote('r1', 'ann', true, { voteId: 'v-ann-2' }), now + 20))
        .then([
          rejected(
            vote('r1', 'ann', true, { voteId: 'v-ann-2' }),
            'conflict:already_voted',
            'ann has already voted on approval task task-r1',
            now + 20,
          ),
        ]);
      // A denial after one approval denies the task.
      const [denied] = given(approvalTasks, [critical('r1'), ...first])
        .when(cast(vote('r1', 'bob', false), now + 20))
        .thenEvents();
      expect(denied).toMatchObject({ $typeName: 'warden.approval.v1.ApprovalDenied', deniedBy: 'bob' });
    });

    it('separation of duties: the requesting subject, the owner contact and the registrant cannot approve, but may deny', () => {
      for (const [who, why] of [
        ['rita', 'the requester the agent acts for (on_behalf_of)'],
        ['olga', "the agent's owner contact"],
        ['alice', 'who registered the agent'],
      ]) {
        given(approvalTasks, [critical('r1')])
          .when(cast(vote('r1', who)))
          .then([
            rejected(
              vote('r1', who),
              'forbidden:separation_of_duties',
              `${who} may not approve this critical action (separation of duties): the token's subject ${who} is ${why} (${who})`,
            ),
          ]);
      }
      const [denied] = given(approvalTasks, [critical('r1')])
        .when(cast(vote('r1', 'rita', false)))
        .thenEvents();
      expect(denied.$typeName).toBe('warden.approval.v1.ApprovalDenied');
    });

    it('separation of duties compares normalised identities: case, spaces and compatibility forms of the subject', () => {
      for (const who of ['OLGA', ' Olga ', '\uff4f\uff4c\uff47\uff41', 'RITA', 'Alice']) {
        const [rejection] = given(approvalTasks, [critical('r1')])
          .when(cast(vote('r1', who)))
          .thenEvents();
        expect(rejection).toMatchObject({
          $typeName: 'warden.approval.v1.ApprovalVoteRejected',
          code: 'forbidden:separation_of_duties',
        });
        expect((rejection as { reason: string }).reason).toContain(`the token's subject ${who} is`);
      }
    });

    it("separation of duties compares the voter's e-mail claim with the requester, owner contact and registrant", () => {
      const task = critical('r1');
      const byMail = opened('r1', {
        riskClass: RiskClass.CRITICAL,
        approvalsRequired: 2,
        ownerContact: 'Olga.Owner@Example.com',
        excludedApprovers: ['rita@example.com', 'Olga.Owner@Example.com', 'alice@example.com'],
        exclusions: [
          create(ApprovalExclusionSchema, { identity: 'rita@example.com', reason: 'requester' }),
          create(ApprovalExclusionSchema, { identity: 'Olga.Owner@Example.com', reason: 'owner_contact' }),
          create(ApprovalExclusionSchema, { identity: 'alice@example.com', reason: 'registrant' }),
        ],
      });
      const v = vote('r1', 'u-1234', true, { voterEmail: 'olga.owner@example.com' });
      given(approvalTasks, [byMail])
        .when(cast(v))
        .then([
          rejected(
            v,
            'forbidden:separation_of_duties',
            "u-1234 may not approve this critical action (separation of duties): the token's e-mail " +
              "olga.owner@example.com is the agent's owner contact (Olga.Owner@Example.com)",
          ),
        ]);
      for (const email of ['RITA@example.com', 'alice@EXAMPLE.com']) {
        const [rejection] = given(approvalTasks, [byMail])
          .when(cast(vote('r1', 'u-1', true, { voterEmail: email })))
          .thenEvents();
        expect(rejection).toMatchObject({ code: 'forbidden:separation_of_duties' });
      }
      // An e-mail that names nobody excluded is counted, and an empty claim matches nothing.
      const [recorded] = given(approvalTasks, [byMail])
        .when(cast(vote('r1', 'u-2', true, { voterEmail: 'ann@example.com' })))
        .thenEvents();
      expect(recorded).toMatchObject({
        $typeName: 'warden.approval.v1.ApprovalVoteRecorded',
        voterEmail: 'ann@example.com',
      });
      const [plain] = given(approvalTasks, [task])
        .when(cast(vote('r1', 'ann', true, { voterEmail: '' })))
        .thenEvents();
      expect(plain.$typeName).toBe('warden.approval.v1.ApprovalVoteRecorded');
    });

    it('opens a task with the registrant excluded, each exclusion with its reason, spellings of one identity once', () => {
      const [o] = given(approvalTasks)
        .when(
          openTask('r1', {
            decision: decision('r1', Verdict.PENDING_APPROVAL, RiskClass.CRITICAL),
            context: { ...context, ownerContact: 'RITA', registrant: 'admin-7' },
          }),
        )
        .thenEvents();
      expect(o).toMatchObject({
        excludedApprovers: ['rita', 'admin-7'],
        exclusions: [
          { identity: 'rita', reason: 'requester' },
          { identity: 'RITA', reason: 'owner_contact' },
          { identity: 'admin-7', reason: 'registrant' },
        ],
      });
      const [rejection] = given(approvalTasks, [o as ReturnType<typeof opened>])
        .when(cast(vote('r1', 'Rita')))
        .thenEvents();
      expect((rejection as { reason: string }).reason).toBe(
        "Rita may not approve this critical action (separation of duties): the token's subject Rita is the requester " +
          "the agent acts for (on_behalf_of) (rita); the token's subject Rita is the agent's owner contact (RITA)",
      );
    });

    it('a task opened before exclusions were recorded still excludes its excluded approvers, normalised', () => {
      const legacy = critical('r1');
      legacy.exclusions = [];
      const [rejection] = given(approvalTasks, [legacy])
        .when(cast(vote('r1', 'OLGA')))
        .thenEvents();
      expect((rejection as { reason: string }).reason).toBe(
        "OLGA may not approve this critical action (separation of duties): the token's subject OLGA is the agent's " +
          'requester or owner (olga)',
      );
    });

    it('one person, one vote: a second vote under another spelling or the same e-mail is already_voted', () => {
      const first = given(approvalTasks, [critical('r1')])
        .when(cast(vote('r1', 'ann', true, { voterEmail: 'ann@example.com' })))
        .thenEvents();
      for (const [voter, email] of [
        ['ANN', ''],
        ['ann-2', 'Ann@Example.com'],
      ]) {
        const v = vote('r1', voter, true, { voteId: `v-${voter}-2`, voterEmail: email });
        given(approvalTasks, [critical('r1'), ...first])
          .when(cast(v, now + 20))
          .then([
            rejected(
              v,
              'conflict:already_voted',
              `${voter} has already voted on approval task task-r1 as ann`,
              now + 20,
            ),
          ]);
      }
    });

    it('identity links: a subject linked to the owner, requester or registrant may not approve, in every direction', () => {
      const byMail = opened('r1', {
        riskClass: RiskClass.CRITICAL,
        approvalsRequired: 2,
        ownerContact: 'olga@example.com',
        excludedApprovers: ['rita', 'olga@example.com', 'alice'],
        exclusions: [
          create(ApprovalExclusionSchema, { identity: 'rita', reason: 'requester' }),
          create(ApprovalExclusionSchema, { identity: 'olga@example.com', reason: 'owner_contact' }),
          create(ApprovalExclusionSchema, { identity: 'alice', reason: 'registrant' }),
        ],
      });
      // The subject is the link's subject, the excluded e-mail its alias.
      const v = vote('r1', 'u-123');
      given(approvalTasks, [byMail])
        .when(cast(v, now + 10, none, [['u-123', 'olga@example.com']]))
        .then([
          rejected(
            v,
            'forbidden:separation_of_duties',
            "u-123 may not approve this critical action (separation of duties): the token's subject u-123 is " +
              "linked to olga@example.com, the agent's owner contact",
          ),
        ]);
      for (const [voter, email, links] of [
        // The other way round: the voter is an alias of an excluded subject.
        ['u-9', '', [['RITA', 'U-9']]],
        // Case and spelling variants on either side.
        ['U-123', '', [[' u-123 ', 'OLGA@Example.COM']]],
        // Through the voter's e-mail claim, and through a chain of two links.
        ['u-5', 'ally@example.com', [['alice', 'ally@example.com']]],
        [
          'u-7',
          '',
          [
            ['u-7', 'u-8'],
            ['u-8', 'olga@example.com'],
          ],
        ],
      ] as [string, string, string[][]][]) {
        const [rejection] = given(approvalTasks, [byMail])
          .when(cast(vote('r1', voter, true, { voterEmail: email }), now + 10, none, links))
          .thenEvents();
        expect(rejection).toMatchObject({ code: 'forbidden:separation_of_duties' });
        expect((rejection as { reason: string }).reason).toContain('is linked to');
      }
      // Unlinked (no link left), the same subject is counted; a link may still deny.
      const [recorded] = given(approvalTasks, [byMail]).when(cast(v)).thenEvents();
      expect(recorded.$typeName).toBe('warden.approval.v1.ApprovalVoteRecorded');
      const [denied] = given(approvalTasks, [byMail])
        .when(cast(vote('r1', 'u-123', false), now + 10, none, [['u-123', 'olga@example.com']]))
        .thenEvents();
      expect(denied.$typeName).toBe('warden.approval.v1.ApprovalDenied');
    });

    it('identity links: one person voting twice under two linked identities is already_voted', () => {
      const links = [['u-123', 'Ann@Example.com', 'ann-admin']];
      const first = given(approvalTasks, [critical('r1')])
        .when(cast(vote('r1', 'u-123'), now + 10, none, links))
        .thenEvents();
      for (const [voter, email] of [
        ['ANN-ADMIN', ''],
        ['u-999', 'ann@example.com'],
      ]) {
        const v = vote('r1', voter, true, { voteId: `v-${voter}-2`, voterEmail: email });
        given(approvalTasks, [critical('r1'), ...first])
          .when(cast(v, now + 20, none, links))
          .then([
            rejected(
              v,
              'conflict:already_voted',
              `${voter} has already voted on approval task task-r1 as u-123 (${voter} is linked to u-123)`,
              now + 20,
            ),
          ]);
      }
      // Without the link, another subject is another approver: the quorum of two is met.
      const [granted] = given(approvalTasks, [critical('r1'), ...first])
        .when(cast(vote('r1', 'ann-admin', true, { voteId: 'v-ann-2' }), now + 20))
        .thenEvents();
      expect(granted.$typeName).toBe('warden.approval.v1.ApprovalGranted');
    });

    it('args-digest binding: an approval for other arguments than the task is refused', () => {
      given(approvalTasks, [opened('r1')])
        .when(cast(vote('r1', 'ann', true, { argumentsDigest: 'sha256:other' })))
        .then([
          rejected(
            vote('r1', 'ann', true, { argumentsDigest: 'sha256:other' }),
            'conflict:arguments_digest_mismatch',
            "the arguments digest sha256:other is not the task's; review the task again",
          ),
        ]);
    });

    it('refuses voters without an approver role, votes on resolved tasks and on other tenants', () => {
      given(approvalTasks, [opened('r1')])
        .when(cast(vote('r1', 'ann', true, { roles: ['auditor', 'owner'] })))
        .then([
          rejected(
            vote('r1', 'ann', true, { roles: ['auditor', 'owner'] }),
            'forbidden:role_required',
            'voting on approval tasks needs one of the roles admin, approver',
          ),
        ]);
      given(approvalTasks, [opened('r1'), ...killed('r1', 'ks', 'global', now + 1)])
        .when(cast(vote('r1', 'ann')))
        .then([rejected(vote('r1', 'ann'), 'invalid:task_resolved', 'approval task task-r1 is denied')]);
      given(approvalTasks, [opened('r1')])
        .when(cast(vote('r1', 'ann', true, { tenantId: 'globex' })))
        .then([
          rejected(vote('r1', 'ann', true, { tenantId: 'globex' }), 'not_found:not_found', 'no approval task task-r1'),
        ]);
    });

    it('checkVote answers the same refusals as DomainErrors for the HTTP API', () => {
      const state = given(approvalTasks, [critical('r1')]).state;
      expect(() => checkVote(taskOf(state, 'task-r1'), vote('r1', 'rita'), now)).toThrow(
        expect.objectContaining({ kind: 'forbidden', code: 'separation_of_duties' }),
      );
      expect(() => checkVote(taskOf(state, 'task-r1'), vote('r1', 'ann'), now + ttlMs)).toThrow(
        expect.objectContaining({ kind: 'invalid', code: 'task_expired' }),
      );
      expect(checkVote(taskOf(state, 'task-r1'), vote('r1', 'ann'), now).opened.taskId).toBe('task-r1');
    });
  });

  describe('review: expire, escalate, kill', () => {
    const review = (at: number, active = none): ApprovalTaskCommand => ({
      type: 'ReviewApprovalTasks',
      switches: active,
      rules,
      now: at,
    });
    const escalated = (requestId: string, at: number) => [
      create(ApprovalEscalatedSchema, {
        taskId: `task-${requestId}`,
        requestId,
        runId: 'run-1',
        escalateTo: ['admin'],
        escalatedAtMs: at,
      }),
      notified(requestId, 'escalated', ['role:admin', ...owners], `approval still open, escalated: ${what}`, at),
    ];

    it('expire: an open task past its expiry expires (expiry decides deny); a later one stays open', () => {
      const later = opened('r2', { expiresAtMs: now + 2 * ttlMs, escalateAtMs: 0 });
      given(approvalTasks, [opened('r1', { escalateAtMs: 0 }), later])
        .when(review(now + ttlMs))
        .then(expiredAt('r1', now + ttlMs));
      given(approvalTasks, [opened('r1', { escalateAtMs: 0 })])
        .when(review(now + ttlMs - 1))
        .then([]);
    });

    it('escalate: an open task past its escalation time escalates once, to the configured roles', () => {
      const at = now + rules.escalateAfterMs;
      const events = given(approvalTasks, [opened('r1')])
        .when(review(at))
        .then(escalated('r1', at));
      given(approvalTasks, [opened('r1'), ...events])
        .when(review(at + 1000))
        .then([]);
      given(approvalTasks, [opened('r1')])
        .when(review(at - 1))
        .then([]);
    });

    it('kill: every open task a kill switch covers is denied, naming the oldest covering switch', () => {
      given(approvalTasks, [
        opened('r1'),
        opened('r2', { request: create(GateRequestedSchema, { ...request('r2', 'email'), agentToken: '' }) }),
      ])
        .when(
          review(
            now + 5,
            switches(
              engaged('ks-new', { tool: 'payments' }, now + 2),
              engaged('ks-old', { tool: 'payments' }, now + 1),
            ),
          ),
        )
        .then(killed('r1', 'ks-old', 'tool=payments', now + 5));
      const expiredSwitch = create(KillSwitchEngagedSchema, { ...engaged('ks-1', {}), expiresAtMs: now + 3 });
      given(approvalTasks, [opened('r1')])
        .when(review(now + 5, switches(expiredSwitch)))
        .then([]);
    });

    it('kill before a vote: a vote on a task whose run was killed finds it denied', () => {
      const active = switches(engaged('ks-1', { runId: 'run-1' }));
      given(approvalTasks, [opened('r1')])
        .when(cast(vote('r1', 'ann'), now + 10, active))
        .then([
          ...killed('r1', 'ks-1', 'runId=run-1', now + 10),
          rejected(vote('r1', 'ann'), 'invalid:task_resolved', 'approval task task-r1 is denied'),
        ]);
    });

    it('a vote after the expiry finds the task expired', () => {
      const at = now + ttlMs + 1;
      given(approvalTasks, [opened('r1', { escalateAtMs: 0 })])
        .when(cast(vote('r1', 'ann'), at))
        .then([
          ...expiredAt('r1', at),
          rejected(vote('r1', 'ann'), 'invalid:task_resolved', 'approval task task-r1 is expired', at),
        ]);
    });

    it('never expires or escalates a resolved task', () => {
      given(approvalTasks, [opened('r1'), ...killed('r1', 'ks-1', 'global', now + 1)])
        .when(review(now + 2 * ttlMs))
        .then([]);
    });
  });

  describe('reacting to a gate decision of the run', () => {
    const react = (d: GateDecided, at: number, active: ActiveSwitches = none): ApprovalTaskCommand => ({
      type: 'ReactToGateDecision',
      decision: d,
      taskId: `task-${d.requestId}`,
      context,
      rules,
      switches: active,
      now: at,
    });

    it('opens a task for a pending decision and does nothing for a final one', () => {
      const events = given(approvalTasks)
        .when(react(decision('r1'), now))
        .thenEvents();
      expect(events.map((e) => e.$typeName)).toEqual([
        'warden.approval.v1.ApprovalTaskOpened',
        'warden.approval.v1.ApprovalNotificationRequested',
      ]);
      given(approvalTasks)
        .when(react(decision('r1', Verdict.ALLOW), now))
        .then([]);
    });

    it('reviews the open tasks first, then opens the new one, and denies it at once under a kill switch', () => {
      const at = now + ttlMs;
      const events = given(approvalTasks, [opened('r1', { escalateAtMs: 0 })])
        .when(react(decision('r2'), at))
        .thenEvents();
      expect(events.slice(0, 2)).toEqual(expiredAt('r1', at));
      expect(events[2]).toMatchObject({ requestId: 'r2', openedAtMs: at, expiresAtMs: at + ttlMs });
      const active = switches(engaged('ks-1', { runId: 'run-1' }));
      const killedNow = given(approvalTasks)
        .when(react(decision('r1'), now, active))
        .thenEvents();
      expect(killedNow.slice(2)).toEqual(killed('r1', 'ks-1', 'runId=run-1', now));
    });

    it('records the use of a standing approval by an allow decision', () => {
      const allowed = create(GateDecidedSchema, {
        ...decision('r9', Verdict.ALLOW),
        context: create(DecisionContextSchema, {
          approval: create(ApprovalRefSchema, { standingApprovalId: 'sa-1' }),
        }),
      });
      given(approvalTasks)
        .when(react(allowed, now))
        .then([
          create(StandingApprovalUsedSchema, {
            standingId: 'sa-1',
            tenantId: 'acme',
            requestId: 'r9',
            runId: 'run-1',
            decisionId: 'd-r9',
            usedAtMs: now,
          }),
        ]);
    });
  });

  describe('evolve', () => {
    it('is idempotent: a replayed or stray event leaves the state as it is', () => {
      const state = given(approvalTasks, [opened('r1')]).state;
      expect(approvalTasks.evolve(state, opened('r1', { taskId: 'other-task' }))).toBe(state);
      const [denied] = killed('r1', 'ks-1', 'global', now + 1);
      const after = approvalTasks.evolve(state, denied);
      expect(after.tasks.get('r1')?.status).toBe('denied');
      expect(approvalTasks.evolve(after, denied)).toBe(after);
      expect(approvalTasks.evolve(after, create(ApprovalExpiredSchema, { taskId: 'task-r1', requestId: 'r1' }))).toBe(
        after,
      );
      expect(approvalTasks.evolve(state, create(ApprovalGrantedSchema, { taskId: 'wrong', requestId: 'r1' }))).toBe(
        state,
      );
    });
  });
});
