import {
  ActiveSwitches,
  ApprovalDenied,
  ApprovalDeniedSchema,
  ApprovalEscalated,
  ApprovalEscalatedSchema,
  ApprovalExclusionSchema,
  ApprovalExpired,
  ApprovalExpiredSchema,
  ApprovalGranted,
  ApprovalGrantedSchema,
  ApprovalNotificationRequested,
  ApprovalNotificationRequestedSchema,
  ApprovalTaskOpened,
  ApprovalTaskOpenedSchema,
  ApprovalVoteRecorded,
  ApprovalVoteRecordedSchema,
  ApprovalVoteRejected,
  ApprovalVoteRejectedSchema,
  CastApprovalVote,
  covering,
  create,
  describeScope,
  GateDecided,
  GateRequestedSchema,
  RiskClass,
  StandingApprovalUsed,
  StandingApprovalUsedSchema,
  Verdict,
} from '@warden/contracts';
import {
  assertNever,
  conflict,
  Decider,
  DomainError,
  fold,
  forbidden,
  invalid,
  notFound,
  requireRole,
} from '@warden/kernel';
import { ApprovalRules, quorumOf, taskTtlOf } from './approval-rules';
import { ExclusionReason, exclusionsMatching, IdentityLinks, NO_LINKS, normalIdentity, samePerson } from './identity';
import { TaskContext } from './task-context';

/** Events of the approval tasks of one run (stream id = run id), in wire form. */
export type ApprovalTaskEvent =
  | ApprovalTaskOpened
  | ApprovalVoteRecorded
  | ApprovalVoteRejected
  | ApprovalEscalated
  | ApprovalGranted
  | ApprovalDenied
  | ApprovalExpired
  | ApprovalNotificationRequested
  | StandingApprovalUsed;

export interface Vote {
  readonly voter: string;
  /** The e-mail claim of the voter's token ('' = none). */
  readonly voterEmail: string;
  readonly approve: boolean;
}

/** One approval task, by where it is in its life. */
export type ApprovalTask =
  | {
      readonly status: 'open';
      readonly opened: ApprovalTaskOpened;
      readonly votes: readonly Vote[];
      readonly escalated: boolean;
    }
  | { readonly status: 'granted'; readonly opened: ApprovalTaskOpened; readonly granted: ApprovalGranted }
  | { readonly status: 'denied'; readonly opened: ApprovalTaskOpened; readonly denied: ApprovalDenied }
  | { readonly status: 'expired'; readonly opened: ApprovalTaskOpened; readonly expired: ApprovalExpired };

export type OpenTask = Extract<ApprovalTask, { status: 'open' }>;
export type ApprovalTaskStatus = ApprovalTask['status'];
export const APPROVAL_TASK_STATUSES: readonly ApprovalTaskStatus[] = ['open', 'granted', 'denied', 'expired'];

/** The approval tasks of one run, by gate request id (at most one task per request). */
export interface ApprovalTasksState {
  readonly tasks: ReadonlyMap<string, ApprovalTask>;
}

export type OpenApprovalTask = {
  readonly type: 'OpenApprovalTask';
  /** A decision with verdict pending_approval. */
  readonly decision: GateDecided;
  readonly taskId: string;
  readonly context: TaskContext;
  readonly rules: ApprovalRules;
  readonly now: number;
};

export type ExpireApprovalTasks = { readonly type: 'ExpireApprovalTasks'; readonly now: number };

export type EscalateApprovalTasks = {
  readonly type: 'EscalateApprovalTasks';
  readonly rules: ApprovalRules;
  readonly now: number;
};

export type DenyApprovalTasksInScope = {
  readonly type: 'DenyApprovalTasksInScope';
  /** The kill switches as the service sees them; each open task is matched against its own request. */
  readonly switches: ActiveSwitches;
  readonly now: number;
};

/** Re-check every open task of the run: expire the overdue, escalate the late, deny the killed. */
export type ReviewApprovalTasks = {
  readonly type: 'ReviewApprovalTasks';
  readonly switches: ActiveSwitches;
  readonly rules: ApprovalRules;
  readonly now: number;
};

/** An approver's vote, after the run's tasks were reviewed (so a killed or overdue task refuses it). */
export type CastVote = {
  readonly type: 'CastVote';
  readonly vote: CastApprovalVote;
  readonly switches: ActiveSwitches;
  readonly rules: ApprovalRules;
  readonly now: number;
  /** The identity links of the vote's tenant as the service has folded them (none if omitted). */
  readonly links?: IdentityLinks;
};

/**
 * What the approval service does with every gate decision of the run: review the open tasks,
 * open a task if the decision is pending approval (and deny it at once under a kill switch),
 * record a standing approval's use.
 */
export type ReactToGateDecision = {
  readonly type: 'ReactToGateDecision';
  readonly decision: GateDecided;
  readonly taskId: string;
  readonly context: TaskContext;
  readonly rules: ApprovalRules;
  readonly switches: ActiveSwitches;
  readonly now: number;
};

export type ApprovalTaskCommand =
  | OpenApprovalTask
  | ExpireApprovalTasks
  | EscalateApprovalTasks
  | DenyApprovalTasksInScope
  | ReviewApprovalTasks
  | CastVote
  | ReactToGateDecision;

/** The evaluation result with which a policy asks for a human approval. */
export const REQUIRE_APPROVAL = 'require_approval';

function reasonsOf(decision: GateDecided): string[] {
  const reasons = (decision.context?.evaluations ?? [])
    .filter((e) => e.result === REQUIRE_APPROVAL)
    .map((e) => `${e.policyId}: ${e.reason}`);
  if (decision.reason !== '' && !reasons.includes(decision.reason)) reasons.push(decision.reason);
  return reasons;
}

const riskName = (c: RiskClass) => RiskClass[c].toLowerCase();

function notification(
  opened: ApprovalTaskOpened,
  kind: 'opened' | 'escalated' | 'granted' | 'denied' | 'expired',
  recipients: readonly string[],
  summary: string,
  now: number,
): ApprovalNotificationRequested {
  const request = opened.request ?? create(GateRequestedSchema);
  return create(ApprovalNotificationRequestedSchema, {
    notificationId: `${opened.taskId}:${kind}`,
    taskId: opened.taskId,
    requestId: opened.requestId,
    runId: request.runId,
    tenantId: request.tenantId,
    kind,
    recipients: [...new Set(recipients.filter((r) => !r.endsWith(':')))],
    summary,
    riskClass: opened.riskClass,
    requestedAtMs: now,
  });
}

const owners = (o: ApprovalTaskOpened) => [`team:${o.ownerTeam}`, `contact:${o.ownerContact}`];
const what = (o: ApprovalTaskOpened) =>
  `${o.request?.tool ?? ''}.${o.request?.action ?? ''} by agent ${o.request?.agentId ?? ''} (${riskName(o.riskClass)})`;

/**
 * Who may not approve a task whose risk class demands separation of duties: the requester, the
 * agent's owner contact and its registrant, each with the reason (compared normalised: identity.ts).
 */
function exclusionsOf(onBehalfOf: string, context: TaskContext) {
  const candidates: [string, ExclusionReason][] = [
    [onBehalfOf, 'requester'],
    [context.ownerContact, 'owner_contact'],
    [context.registrant, 'registrant'],
  ];
  return candidates
    .filter(([identity]) => normalIdentity(identity) !== '')
    .map(([identity, reason]) => create(ApprovalExclusionSchema, { identity, reason }));
}

/** The identities, once each as compared (the first spelling kept). */
function distinct(identities: readonly string[]): string[] {
  const seen = new Set<string>();
  return identities.filter((i) => {
    const n = normalIdentity(i);
    if (seen.has(n)) return false;
    seen.add(n);
    return true;
  });
}

function open(command: OpenApprovalTask, state: ApprovalTasksState): ApprovalTaskEvent[] {
  const { decision, taskId, context, rules, now } = command;
  if (decision.verdict !== Verdict.PENDING_APPROVAL) {
    throw invalid('not_pending_approval', `decision ${decision.decisionId} is not pending approval`, 'verdict');
  }
  if (!decision.request) {
    throw invalid('request_missing', `decision ${decision.decisionId} does not carry its request`, 'request');
  }
  if (!(rules.taskTtlMs > 0)) throw invalid('invalid_ttl', 'taskTtlMs must be positive', 'taskTtlMs');
  if (state.tasks.has(decision.requestId)) return [];
  const riskClass = decision.context?.riskClass ?? RiskClass.UNSPECIFIED;
  const ttlMs = taskTtlOf(rules, riskClass, context.approvalTtlMs);
  if (!(ttlMs > 0))
    throw invalid('invalid_ttl', `the task TTL of ${riskName(riskClass)} must be positive`, 'taskTtlMs');
  const exclusions = rules.separationOfDuties.has(riskClass) ? exclusionsOf(decision.request.onBehalfOf, context) : [];
  const opened = create(ApprovalTaskOpenedSchema, {
    taskId,
    requestId: decision.requestId,
    decisionId: decision.decisionId,
    // The agent's token proves who signed the request; an approver never needs it.
    request: create(GateRequestedSchema, { ...decision.request, agentToken: '' }),
    riskClass,
    riskScore: decision.context?.riskScore ?? 0,
    reasons: reasonsOf(decision),
    diff: context.diff,
    blastRadius: context.blastRadius,
    rollbackPath: context.rollbackPath,
    openedAtMs: now,
    expiresAtMs: now + ttlMs,
    policyVersion: decision.context?.versions?.policyBundleVersion ?? '',
    ownerTeam: context.ownerTeam,
    ownerContact: context.ownerContact,
    approvalsRequired: quorumOf(rules, riskClass),
    excludedApprovers: distinct(exclusions.map((e) => e.identity)),
    exclusions,
    escalateAtMs: rules.escalateAfterMs > 0 ? now + rules.escalateAfterMs : 0,
    toolContractVersion: context.toolContractVersion,
  });
  return [
    opened,
    notification(
      opened,
      'opened',
      ['role:approver', ...owners(opened)],
      `approval needed: ${what(opened)}: ${opened.reasons.join('; ')}`,
      now,
    ),
  ];
}

export const openTasks = (state: ApprovalTasksState): OpenTask[] =>
  [...state.tasks.values()].filter((t): t is OpenTask => t.status === 'open');

function expire(command: ExpireApprovalTasks, state: ApprovalTasksState): ApprovalTaskEvent[] {
  return openTasks(state)
    .filter((t) => t.opened.expiresAtMs <= command.now)
    .flatMap((t) => [
      create(ApprovalExpiredSchema, {
        taskId: t.opened.taskId,
        requestId: t.opened.requestId,
        runId: t.opened.request?.runId ?? '',
        expiredAtMs: command.now,
      }),
      notification(t.opened, 'expired', owners(t.opened), `approval expired (denied): ${what(t.opened)}`, command.now),
    ]);
}

function escalate(command: EscalateApprovalTasks, state: ApprovalTasksState): ApprovalTaskEvent[] {
  return openTasks(state)
    .filter((t) => !t.escalated && t.opened.escalateAtMs > 0 && t.opened.escalateAtMs <= command.now)
    .flatMap((t) => [
      create(ApprovalEscalatedSchema, {
        taskId: t.opened.taskId,
        requestId: t.opened.requestId,
        runId: t.opened.request?.runId ?? '',
        escalateTo: [...command.rules.escalateTo],
        escalatedAtMs: command.now,
      }),
      notification(
        t.opened,
        'escalated',
        [...command.rules.escalateTo.map((r) => `role:${r}`), ...owners(t.opened)],
        `approval still open, escalated: ${what(t.opened)}`,
        command.now,
      ),
    ]);
}

function denyInScope(command: DenyApprovalTasksInScope, state: ApprovalTasksState): ApprovalTaskEvent[] {
  const out: ApprovalTaskEvent[] = [];
  for (const t of openTasks(state)) {
    const request = t.opened.request ?? create(GateRequestedSchema);
    const [s] = covering(command.switches, request, command.now);
    if (!s) continue;
    const comment = `kill switch ${s.switchId} (${describeScope(s.scope)}) engaged by ${s.engagedBy}: ${s.reason}`;
    out.push(
      create(ApprovalDeniedSchema, {
        taskId: t.opened.taskId,
        requestId: t.opened.requestId,
        runId: request.runId,
        deniedBy: `killswitch:${s.switchId}`,
        comment,
        deniedAtMs: command.now,
      }),
      notification(t.opened, 'denied', owners(t.opened), `approval denied: ${what(t.opened)}: ${comment}`, command.now),
    );
  }
  return out;
}

/** The task a vote is for, in the run's state. */
export function taskOf(state: ApprovalTasksState, taskId: string): ApprovalTask | undefined {
  for (const t of state.tasks.values()) if (t.opened.taskId === taskId) return t;
  return undefined;
}

/**
 * Whether a vote may be counted on a task, as of `now`. Throws the DomainError that says why
 * not: the HTTP API calls this to answer at once, the decider to record the refusal.
 */
export function checkVote(
  task: ApprovalTask | undefined,
  vote: CastApprovalVote,
  now: number,
  links: IdentityLinks = NO_LINKS,
): OpenTask {
  if (!task || task.opened.request?.tenantId !== vote.tenantId) {
    throw notFound('not_found', `no approval task ${vote.taskId}`);
  }
  requireRole(vote, 'approval.tasks.vote');
  if (task.status !== 'open') throw invalid('task_resolved', `approval task ${vote.taskId} is ${task.status}`);
  if (task.opened.expiresAtMs <= now) throw invalid('task_expired', `approval task ${vote.taskId} has expired`);
  const excluded = vote.approve ? exclusionsMatching(task.opened, vote, links) : [];
  if (excluded.length > 0) {
    throw forbidden(
      'separation_of_duties',
      `${vote.voter} may not approve this ${riskName(task.opened.riskClass)} action (separation of duties): ` +
        excluded.map((e) => e.explanation).join('; '),
    );
  }
  const earlier = task.votes.find((v) => samePerson(v, vote, links));
  if (earlier) {
    const linked = !samePerson(earlier, vote) ? ` (${vote.voter} is linked to ${earlier.voter})` : '';
    throw conflict(
      'already_voted',
      earlier.voter === vote.voter
        ? `${vote.voter} has already voted on approval task ${vote.taskId}`
        : `${vote.voter} has already voted on approval task ${vote.taskId} as ${earlier.voter}${linked}`,
    );
  }
  if (vote.approve && vote.argumentsDigest !== (task.opened.request?.argumentsDigest ?? '')) {
    throw conflict(
      'arguments_digest_mismatch',
      `the arguments digest ${vote.argumentsDigest || '(none)'} is not the task's; review the task again`,
      'argumentsDigest',
    );
  }
  return task;
}

function castVote(command: CastVote, state: ApprovalTasksState): ApprovalTaskEvent[] {
  const { vote, now, rules } = command;
  const reviewed = decideInOrder([{ type: 'ReviewApprovalTasks', switches: command.switches, rules, now }], state);
  const current = fold(approvalTasks.evolve, state, reviewed);
  let task: OpenTask;
  try {
    task = checkVote(taskOf(current, vote.taskId), vote, now, command.links);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return [
      ...reviewed,
      create(ApprovalVoteRejectedSchema, {
        taskId: vote.taskId,
        runId: vote.runId,
        voteId: vote.voteId,
        voter: vote.voter,
        code: `${error.kind}:${error.code}`,
        reason: error.message,
        rejectedAtMs: now,
      }),
    ];
  }
  const o = task.opened;
  const ids = { taskId: o.taskId, requestId: o.requestId, runId: o.request?.runId ?? '', voteId: vote.voteId };
  if (!vote.approve) {
    return [
      ...reviewed,
      create(ApprovalDeniedSchema, { ...ids, deniedBy: vote.voter, comment: vote.comment, deniedAtMs: now }),
      notification(o, 'denied', owners(o), `approval denied by ${vote.voter}: ${what(o)}`, now),
    ];
  }
  const approvers = [...task.votes.filter((v) => v.approve).map((v) => v.voter), vote.voter];
  if (approvers.length < o.approvalsRequired) {
    return [
      ...reviewed,
      create(ApprovalVoteRecordedSchema, {
        ...ids,
        voter: vote.voter,
        voterEmail: vote.voterEmail,
        comment: vote.comment,
        recordedAtMs: now,
        approvals: approvers.length,
        approvalsRequired: o.approvalsRequired,
      }),
    ];
  }
  return [
    ...reviewed,
    create(ApprovalGrantedSchema, {
      ...ids,
      argumentsDigest: o.request?.argumentsDigest ?? '',
      approvedBy: vote.voter,
      comment: vote.comment,
      grantedAtMs: now,
      policyVersion: o.policyVersion,
      expiresAtMs: now + rules.grantTtlMs,
      approvers,
    }),
    notification(o, 'granted', owners(o), `approval granted by ${approvers.join(', ')}: ${what(o)}`, now),
  ];
}

function standingUse(decision: GateDecided, now: number): ApprovalTaskEvent[] {
  const standingId = decision.context?.approval?.standingApprovalId ?? '';
  if (standingId === '' || decision.verdict !== Verdict.ALLOW) return [];
  return [
    create(StandingApprovalUsedSchema, {
      standingId,
      tenantId: decision.tenantId,
      requestId: decision.requestId,
      runId: decision.runId,
      decisionId: decision.decisionId,
      usedAtMs: now,
    }),
  ];
}

function decideInOrder(commands: readonly ApprovalTaskCommand[], state: ApprovalTasksState): ApprovalTaskEvent[] {
  const out: ApprovalTaskEvent[] = [];
  let current = state;
  for (const command of commands) {
    const events = approvalTasks.decide(command, current);
    current = fold(approvalTasks.evolve, current, events);
    out.push(...events);
  }
  return out;
}

const withTask = (state: ApprovalTasksState, task: ApprovalTask): ApprovalTasksState => ({
  tasks: new Map(state.tasks).set(task.opened.requestId, task),
});

/** The open task an event of the run refers to, if any. */
function openTaskFor(state: ApprovalTasksState, requestId: string, taskId: string): OpenTask | undefined {
  const task = state.tasks.get(requestId);
  return task && task.status === 'open' && task.opened.taskId === taskId ? task : undefined;
}

export const approvalTasks: Decider<ApprovalTaskCommand, ApprovalTasksState, ApprovalTaskEvent> = {
  initialState: { tasks: new Map() },

  decide(command, state) {
    switch (command.type) {
      case 'OpenApprovalTask':
        return open(command, state);
      case 'ExpireApprovalTasks':
        return expire(command, state);
      case 'EscalateApprovalTasks':
        return escalate(command, state);
      case 'DenyApprovalTasksInScope':
        return denyInScope(command, state);
      case 'ReviewApprovalTasks': {
        const { switches, rules, now } = command;
        return decideInOrder(
          [
            { type: 'ExpireApprovalTasks', now },
            { type: 'DenyApprovalTasksInScope', switches, now },
            { type: 'EscalateApprovalTasks', rules, now },
          ],
          state,
        );
      }
      case 'CastVote':
        return castVote(command, state);
      case 'ReactToGateDecision': {
        const { decision, taskId, context, rules, switches, now } = command;
        const pending = decision.verdict === Verdict.PENDING_APPROVAL;
        return [
          ...decideInOrder(
            [
              { type: 'ReviewApprovalTasks', switches, rules, now },
              ...(pending ? [{ type: 'OpenApprovalTask' as const, decision, taskId, context, rules, now }] : []),
              ...(pending ? [{ type: 'DenyApprovalTasksInScope' as const, switches, now }] : []),
            ],
            state,
          ),
          ...standingUse(decision, now),
        ];
      }
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    switch (event.$typeName) {
      case 'warden.approval.v1.ApprovalTaskOpened':
        if (state.tasks.has(event.requestId)) return state;
        return withTask(state, { status: 'open', opened: event, votes: [], escalated: false });
      case 'warden.approval.v1.ApprovalVoteRecorded': {
        const task = openTaskFor(state, event.requestId, event.taskId);
        if (!task) return state;
        return withTask(state, {
          ...task,
          votes: [...task.votes, { voter: event.voter, voterEmail: event.voterEmail, approve: true }],
        });
      }
      case 'warden.approval.v1.ApprovalEscalated': {
        const task = openTaskFor(state, event.requestId, event.taskId);
        return task ? withTask(state, { ...task, escalated: true }) : state;
      }
      case 'warden.approval.v1.ApprovalGranted': {
        const task = openTaskFor(state, event.requestId, event.taskId);
        return task ? withTask(state, { status: 'granted', opened: task.opened, granted: event }) : state;
      }
      case 'warden.approval.v1.ApprovalDenied': {
        const task = openTaskFor(state, event.requestId, event.taskId);
        return task ? withTask(state, { status: 'denied', opened: task.opened, denied: event }) : state;
      }
      case 'warden.approval.v1.ApprovalExpired': {
        const task = openTaskFor(state, event.requestId, event.taskId);
        return task ? withTask(state, { status: 'expired', opened: task.opened, expired: event }) : state;
      }
      case 'warden.approval.v1.ApprovalVoteRejected':
      case 'warden.approval.v1.ApprovalNotificationRequested':
      case 'warden.approval.v1.StandingApprovalUsed':
        return state;
      default:
        return assertNever(event, 'event');
    }
  },
};
