import {
  ActiveSwitches,
  ApprovalDenied,
  ApprovalDeniedSchema,
  ApprovalExpired,
  ApprovalExpiredSchema,
  ApprovalGranted,
  ApprovalTaskOpened,
  ApprovalTaskOpenedSchema,
  covering,
  create,
  describeScope,
  GateDecided,
  GateRequestedSchema,
  RiskClass,
  Verdict,
} from '@warden/contracts';
import { assertNever, Decider, fold, invalid } from '@warden/kernel';

/** Events of the approval tasks of one run (stream id = run id), in wire form. */
export type ApprovalTaskEvent = ApprovalTaskOpened | ApprovalGranted | ApprovalDenied | ApprovalExpired;

/** One approval task, by where it is in its life. */
export type ApprovalTask =
  | { readonly status: 'open'; readonly opened: ApprovalTaskOpened }
  | { readonly status: 'granted'; readonly opened: ApprovalTaskOpened; readonly granted: ApprovalGranted }
  | { readonly status: 'denied'; readonly opened: ApprovalTaskOpened; readonly denied: ApprovalDenied }
  | { readonly status: 'expired'; readonly opened: ApprovalTaskOpened; readonly expired: ApprovalExpired };

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
  readonly ttlMs: number;
  readonly now: number;
};

export type ExpireApprovalTasks = { readonly type: 'ExpireApprovalTasks'; readonly now: number };

export type DenyApprovalTasksInScope = {
  readonly type: 'DenyApprovalTasksInScope';
  /** The kill switches as the service sees them; each open task is matched against its own request. */
  readonly switches: ActiveSwitches;
  readonly now: number;
};

/**
 * What the approval service does with every gate decision of the run, in this order: expire the
 * overdue tasks, open a task if the decision is pending approval, deny every open task a kill
 * switch covers. (A timer-driven sweep of expiry and kill switches comes with the approval issue.)
 */
export type ReactToGateDecision = {
  readonly type: 'ReactToGateDecision';
  readonly decision: GateDecided;
  readonly taskId: string;
  readonly ttlMs: number;
  readonly switches: ActiveSwitches;
  readonly now: number;
};

export type ApprovalTaskCommand =
  OpenApprovalTask | ExpireApprovalTasks | DenyApprovalTasksInScope | ReactToGateDecision;

/** The evaluation result with which a policy asks for a human approval. */
export const REQUIRE_APPROVAL = 'require_approval';

function reasonsOf(decision: GateDecided): string[] {
  const reasons = (decision.context?.evaluations ?? [])
    .filter((e) => e.result === REQUIRE_APPROVAL)
    .map((e) => `${e.policyId}: ${e.reason}`);
  if (decision.reason !== '' && !reasons.includes(decision.reason)) reasons.push(decision.reason);
  return reasons;
}

function open(command: OpenApprovalTask, state: ApprovalTasksState): ApprovalTaskEvent[] {
  const { decision, taskId, ttlMs, now } = command;
  if (decision.verdict !== Verdict.PENDING_APPROVAL) {
    throw invalid('not_pending_approval', `decision ${decision.decisionId} is not pending approval`, 'verdict');
  }
  if (!decision.request) {
    throw invalid('request_missing', `decision ${decision.decisionId} does not carry its request`, 'request');
  }
  if (!(ttlMs > 0)) throw invalid('invalid_ttl', 'ttlMs must be positive', 'ttlMs');
  if (state.tasks.has(decision.requestId)) return [];
  return [
    create(ApprovalTaskOpenedSchema, {
      taskId,
      requestId: decision.requestId,
      decisionId: decision.decisionId,
      // The agent's token proves who signed the request; an approver never needs it.
      request: create(GateRequestedSchema, { ...decision.request, agentToken: '' }),
      riskClass: decision.context?.riskClass ?? RiskClass.UNSPECIFIED,
      riskScore: decision.context?.riskScore ?? 0,
      reasons: reasonsOf(decision),
      // Diff, blast radius and rollback path are supplied by tool contracts (registry) later.
      diff: '',
      blastRadius: '',
      rollbackPath: '',
      openedAtMs: now,
      expiresAtMs: now + ttlMs,
    }),
  ];
}

const openTasks = (state: ApprovalTasksState) =>
  [...state.tasks.values()].filter((t): t is Extract<ApprovalTask, { status: 'open' }> => t.status === 'open');

function expire(command: ExpireApprovalTasks, state: ApprovalTasksState): ApprovalTaskEvent[] {
  return openTasks(state)
    .filter((t) => t.opened.expiresAtMs <= command.now)
    .map((t) =>
      create(ApprovalExpiredSchema, {
        taskId: t.opened.taskId,
        requestId: t.opened.requestId,
        runId: t.opened.request?.runId ?? '',
        expiredAtMs: command.now,
      }),
    );
}

function denyInScope(command: DenyApprovalTasksInScope, state: ApprovalTasksState): ApprovalTaskEvent[] {
  const out: ApprovalTaskEvent[] = [];
  for (const t of openTasks(state)) {
    const request = t.opened.request ?? create(GateRequestedSchema);
    const [s] = covering(command.switches, request, command.now);
    if (!s) continue;
    out.push(
      create(ApprovalDeniedSchema, {
        taskId: t.opened.taskId,
        requestId: t.opened.requestId,
        runId: request.runId,
        deniedBy: `killswitch:${s.switchId}`,
        comment: `kill switch ${s.switchId} (${describeScope(s.scope)}) engaged by ${s.engagedBy}: ${s.reason}`,
        deniedAtMs: command.now,
      }),
    );
  }
  return out;
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

export const approvalTasks: Decider<ApprovalTaskCommand, ApprovalTasksState, ApprovalTaskEvent> = {
  initialState: { tasks: new Map() },

  decide(command, state) {
    switch (command.type) {
      case 'OpenApprovalTask':
        return open(command, state);
      case 'ExpireApprovalTasks':
        return expire(command, state);
      case 'DenyApprovalTasksInScope':
        return denyInScope(command, state);
      case 'ReactToGateDecision': {
        const { decision, taskId, ttlMs, switches, now } = command;
        const pending = decision.verdict === Verdict.PENDING_APPROVAL;
        return decideInOrder(
          [
            { type: 'ExpireApprovalTasks', now },
            ...(pending ? [{ type: 'OpenApprovalTask' as const, decision, taskId, ttlMs, now }] : []),
            { type: 'DenyApprovalTasksInScope', switches, now },
          ],
          state,
        );
      }
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    if (event.$typeName === 'warden.approval.v1.ApprovalTaskOpened') {
      if (state.tasks.has(event.requestId)) return state;
      return withTask(state, { status: 'open', opened: event });
    }
    const task = state.tasks.get(event.requestId);
    if (!task || task.status !== 'open' || task.opened.taskId !== event.taskId) return state;
    switch (event.$typeName) {
      case 'warden.approval.v1.ApprovalGranted':
        return withTask(state, { status: 'granted', opened: task.opened, granted: event });
      case 'warden.approval.v1.ApprovalDenied':
        return withTask(state, { status: 'denied', opened: task.opened, denied: event });
      case 'warden.approval.v1.ApprovalExpired':
        return withTask(state, { status: 'expired', opened: task.opened, expired: event });
      default:
        return assertNever(event, 'event');
    }
  },
};
