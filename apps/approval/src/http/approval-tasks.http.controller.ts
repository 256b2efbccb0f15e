import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { APPROVAL_TASK_STATUSES, ApprovalTaskStatus } from '@warden/approval-domain';
import { RISK_CLASS_NAMES, RiskClassName } from '@warden/approval-read-models';
import { invalid } from '@warden/kernel';
import { Caller, CallerOf } from '@warden/platform/nest';
import { GetApprovalTask, ListApprovalTasks } from '../approval-tasks.cqrs';

@ApiTags('approval tasks')
@Controller('tasks')
export class ApprovalTasksHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({
    summary: "The approval queue of the caller's tenant, newest first (roles approver, admin, owner or auditor).",
  })
  @ApiQuery({ name: 'status', required: false, enum: APPROVAL_TASK_STATUSES })
  @ApiQuery({ name: 'riskClass', required: false, enum: RISK_CLASS_NAMES })
  list(@CallerOf() caller: Caller, @Query('status') status?: string, @Query('riskClass') riskClass?: string) {
    return this.queries.execute(
      new ListApprovalTasks(caller, {
        status: oneOf<ApprovalTaskStatus>('status', status, APPROVAL_TASK_STATUSES),
        riskClass: oneOf<RiskClassName>('riskClass', riskClass, RISK_CLASS_NAMES),
      }),
    );
  }

  @Get(':id')
  @ApiOperation({ summary: "One approval task of the caller's tenant, with its request, risk and reasons." })
  get(@Param('id') id: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetApprovalTask(caller, id));
  }
}

function oneOf<T extends string>(field: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalid('invalid_query', `${field} must be one of ${allowed.join(', ')}`, field);
  }
  return value as T;
}
