import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { readableTenant, StandingApprovalCommand, standingStream, TaskReader, usesOf } from '@warden/approval-domain';
import { getTask, listQueues, listStanding, listTasks, TaskQuery } from '@warden/approval-read-models';
import { notFound } from '@warden/kernel';
import { ServiceRuntime } from '@warden/platform';
import { APPROVAL_VOTES, ApprovalVotes, VoteRequest } from './approval-votes';
import { STANDING_APPROVALS, StandingGateway } from './standing-approvals';

/** Read-model queries; the reader's tenant scopes every one of them. */
export class ListApprovalTasks {
  constructor(
    readonly reader: TaskReader,
    readonly filter: Omit<TaskQuery, 'tenantId'>,
  ) {}
}
export class GetApprovalTask {
  constructor(
    readonly reader: TaskReader,
    readonly taskId: string,
  ) {}
}
export class ListApprovalQueues {
  constructor(readonly reader: TaskReader) {}
}
export class ListStandingApprovals {
  constructor(
    readonly reader: TaskReader,
    readonly standingId?: string,
  ) {}
}
/** An approver's vote on a task; answers with the task as it is afterwards. */
export class CastApprovalVote {
  constructor(
    readonly reader: TaskReader,
    readonly vote: VoteRequest,
  ) {}
}
export class HandleStandingApprovalCommand {
  constructor(readonly command: Exclude<StandingApprovalCommand, { type: 'ExhaustStandingApproval' }>) {}
}

@QueryHandler(ListApprovalTasks)
export class ListApprovalTasksHandler implements IQueryHandler<ListApprovalTasks> {
  constructor(private readonly runtime: ServiceRuntime) {}
  execute({ reader, filter }: ListApprovalTasks) {
    return listTasks(this.runtime.db, { ...filter, tenantId: readableTenant(reader) });
  }
}

@QueryHandler(GetApprovalTask)
export class GetApprovalTaskHandler implements IQueryHandler<GetApprovalTask> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ reader, taskId }: GetApprovalTask) {
    const row = await getTask(this.runtime.db, readableTenant(reader), taskId);
    if (!row) throw notFound('not_found', `no approval task ${taskId}`);
    return row;
  }
}

@QueryHandler(ListApprovalQueues)
export class ListApprovalQueuesHandler implements IQueryHandler<ListApprovalQueues> {
  constructor(private readonly runtime: ServiceRuntime) {}
  execute({ reader }: ListApprovalQueues) {
    return listQueues(this.runtime.db, readableTenant(reader));
  }
}

@QueryHandler(ListStandingApprovals)
export class ListStandingApprovalsHandler implements IQueryHandler<ListStandingApprovals> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ reader, standingId }: ListStandingApprovals) {
    const rows = await listStanding(this.runtime.db, readableTenant(reader), standingId);
    if (standingId !== undefined && rows.length === 0) {
      throw notFound('not_found', `no standing approval ${standingId}`);
    }
    return standingId === undefined ? rows : rows[0];
  }
}

@CommandHandler(CastApprovalVote)
export class CastApprovalVoteHandler implements ICommandHandler<CastApprovalVote> {
  constructor(@Inject(APPROVAL_VOTES) private readonly votes: ApprovalVotes) {}
  execute({ reader, vote }: CastApprovalVote) {
    return this.votes.cast({ ...vote, tenantId: readableTenant(reader) });
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
