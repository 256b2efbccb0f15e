import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { readableTenant, TaskReader } from '@warden/approval-domain';
import { getTask, listTasks, TaskQuery } from '@warden/approval-read-models';
import { notFound } from '@warden/kernel';
import { ServiceRuntime } from '@warden/platform';

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

export const approvalTaskHandlers = [ListApprovalTasksHandler, GetApprovalTaskHandler];
