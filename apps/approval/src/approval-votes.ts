import { CastApprovalVoteSchema, create, Topic } from '@warden/contracts';
import { ApprovalTaskStatus, checkVote, taskOf } from '@warden/approval-domain';
import { DomainError, DomainErrorKind } from '@warden/kernel';
import { ServiceRuntime, Table, toRecord } from '@warden/platform';
import { randomUUID } from 'node:crypto';
import { TasksView, VoteOutcome } from './approval-views';
import { linksOf, RegistryContext } from './registry-context.table';

export interface VoteRequest {
  readonly taskId: string;
  readonly tenantId: string;
  readonly voter: string;
  /** The e-mail claim of the voter's token ('' = none): separation of duties compares it too. */
  readonly voterEmail: string;
  readonly roles: readonly string[];
  readonly approve: boolean;
  readonly comment: string;
  readonly argumentsDigest: string;
}

export interface VoteResult {
  readonly taskId: string;
  readonly status: ApprovalTaskStatus;
  readonly approvers: readonly string[];
  readonly approvalsRequired: number;
}

export const APPROVAL_VOTES = Symbol('ApprovalVotes');

/**
 * Votes from the HTTP API. A vote is checked against this instance's view (to answer a hopeless
 * one at once), published on approval.commands keyed by the task's run, and decided by the
 * approval-tasks processor, the single writer of the run; the call returns when the view has
 * read the processor's answer (counted, or rejected with the reason).
 */
export class ApprovalVotes {
  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly view: Table<TasksView>,
    private readonly timeoutMs: number,
    /** The registry table the processor folds: its identity links answer a hopeless vote at once too. */
    private readonly registry?: Table<RegistryContext>,
  ) {}

  /** Casts a vote; answers with the task's status and approvals once the processor has decided. */
  async cast(vote: VoteRequest): Promise<VoteResult> {
    await this.view.caughtUp();
    const runId = this.view.state.taskRuns.get(vote.taskId);
    const state = runId === undefined ? undefined : this.view.state.runs.get(runId);
    const now = Date.now();
    const command = create(CastApprovalVoteSchema, {
      ...vote,
      roles: [...vote.roles],
      voteId: randomUUID(),
      runId: runId ?? '',
      castAtMs: now,
    });
    const links = this.registry ? linksOf(this.registry.state, vote.tenantId) : [];
    const task = checkVote(state && taskOf(state, vote.taskId), command, now, links);
    const request = task.opened.request!;
    await this.runtime.port.publish([
      toRecord(this.runtime.prefix, 'warden://approval/http', command.voteId, now, command, {
        topic: Topic.approvalCommands,
        key: request.runId,
        tenantId: request.tenantId,
        agentId: request.agentId,
        runId: request.runId,
      }),
    ]);
    const outcome = await this.outcomeOf(command.voteId);
    if (outcome.kind === 'rejected') {
      const [kind, code] = outcome.code.split(':') as [DomainErrorKind, string];
      throw new DomainError(kind, code, outcome.reason);
    }
    const after = taskOf(this.view.state.runs.get(request.runId)!, vote.taskId)!;
    return {
      taskId: vote.taskId,
      status: after.status,
      approvers:
        after.status === 'open'
          ? after.votes.filter((v) => v.approve).map((v) => v.voter)
          : after.status === 'granted'
            ? after.granted.approvers
            : [],
      approvalsRequired: after.opened.approvalsRequired,
    };
  }

  private async outcomeOf(voteId: string): Promise<VoteOutcome> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const outcome = this.view.state.votes.get(voteId);
      if (outcome) return outcome;
      if (Date.now() > deadline) throw new Error(`vote ${voteId} was not answered within ${this.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
