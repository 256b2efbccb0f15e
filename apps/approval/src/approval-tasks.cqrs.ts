import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { StandingApprovalCommand, standingStream, usesOf } from '@warden/approval-domain';
import { getTask, listQueues, listStanding, listTasks, TaskQuery } from '@warden/approval-read-models';
import { notFound, ownTenant, TenantActor } from '@warden/kernel';
import { rowView, rowViews, ServiceRuntime } from '@warden/platform';
import { APPROVAL_VOTES, ApprovalVotes, VoteRequest } from './approval-votes';
import { STANDING_APPROVALS, StandingGateway } from './standing-approvals';

/** Read-model queries; the reader's tenant scopes every one of them. */
export class ListApprovalTasks {
  constructor(
    readonly reader: TenantActor,
    readonly filter: Omit<TaskQuery, 'tenantId'>,
  ) {}
}
export class GetApprovalTask {
  constructor(
    readonly reader: TenantActor,
    readonly taskId: string,
  ) {}
}
export class ListApprovalQueues {
  constructor(readonly reader: TenantActor) {}
}
export class ListStandingApprovals {
  constructor(
    readonly reader: TenantActor,
    readonly standingId?: string,
  ) {}
}
/** An approver's vote on a task; answers with the task as it is afterwards. */
export class CastApprovalVote {
  constructor(
    readonly reader: TenantActor,
    readonly vote: VoteRequest,
  ) {}
}
export class HandleStandingApprovalCommand {
  constructor(readonly command: Exclude<StandingApprovalCommand, { type: 'ExhaustStandingApproval' }>) {}
}

@QueryHandler(ListApprovalTasks)
export class ListApprovalTasksHandler implements IQueryHandler<ListApprovalTasks> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ reader, filter }: ListApprovalTasks) {
    return rowViews(
      await listTasks(this.runtime.db, { ...filter, tenantId: ownTenant(reader, 'approval.tasks.read') }),
    );
  }
}

@QueryHandler(GetApprovalTask)
export class GetApprovalTaskHandler implements IQueryHandler<GetApprovalTask> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ reader, taskId }: GetApprovalTask) {
    const row = await getTask(this.runtime.db, ownTenant(reader, 'approval.tasks.read'), taskId);
    if (!row) throw notFound('not_found', `no approval task ${taskId}`);
    return rowView(row);
  }
}

@QueryHandler(ListApprovalQueues)
export class ListApprovalQueuesHandler implements IQueryHandler<ListApprovalQueues> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ reader }: ListApprovalQueues) {
    return rowViews(await listQueues(this.runtime.db, ownTenant(reader, 'approval.tasks.read')));
  }
}

@QueryHandler(ListStandingApprovals)
export class ListStandingApprovalsHandler implements IQueryHandler<ListStandingApprovals> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ reader, standingId }: ListStandingApprovals) {
    const rows = await listStanding(this.runtime.db, ownTenant(reader, 'approval.tasks.read'), standingId);
    if (standingId !== undefined && rows.length === 0) {
      throw notFound('not_found', `no standing approval ${standingId}`);
    }
    const views = rows.map(({ recent_uses, ...row }) => ({ ...rowView(row), recentUses: rowViews(recent_uses) }));
    return standingId === undefined ? views : views[0];
  }
}

@CommandHandler(CastApprovalVote)
export class CastApprovalVoteHandler implements ICommandHandler<CastApprovalVote> {
  constructor(@Inject(APPROVAL_VOTES) private readonly votes: ApprovalVotes) {}
  execute({ reader, vote }: CastApprovalVote) {
    return this.votes.cast({ ...vote, tenantId: ownTenant(reader, 'approval.tasks.read') });
  }
}

@CommandHandler(HandleStandingApprovalCommand)
export class HandleStandingApprovalCommandHandler implements ICommandHandler<HandleStandingApprovalCommand> {
  constructor(@Inject(STANDING_APPROVALS) private readonly standing: StandingGateway) {}
  async execute({ command }: HandleStandingApprovalCommand) {
    const { state } = await this.standing.handle(standingStream(command.tenantId), command, {
      now: command.now,
      eventId: () => randomUUID(),
    });
    const s = state.approvals.get(command.standingId);
    return s && { standingId: s.granted.standingId, status: s.status, uses: usesOf(state, command.standingId) };
  }
}

export const approvalTaskHandlers = [
  ListApprovalTasksHandler,
  GetApprovalTaskHandler,
  ListApprovalQueuesHandler,
  ListStandingApprovalsHandler,
  CastApprovalVoteHandler,
  HandleStandingApprovalCommandHandler,
];
