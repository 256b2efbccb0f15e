import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { APPROVAL_TASK_STATUSES, ApprovalTaskStatus } from '@warden/approval-domain';
import { RISK_CLASS_NAMES, RiskClassName } from '@warden/approval-read-models';
import { invalid } from '@warden/kernel';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { CastApprovalVote, GetApprovalTask, ListApprovalQueues, ListApprovalTasks } from '../approval-tasks.cqrs';

const VOTE_BODY = {
  schema: {
    type: 'object',
    required: ['argumentsDigest'],
    properties: {
      argumentsDigest: { type: 'string', description: 'The arguments digest of the task the approver reviewed.' },
      comment: { type: 'string', maxLength: 2000 },
    },
  },
};

@ApiTags('approval tasks')
@Controller()
export class ApprovalTasksHttpController {
  constructor(
    private readonly queries: QueryBus,
    private readonly commands: CommandBus,
  ) {}

  @Get('tasks')
  @ApiOperation({
    summary: "The approval tasks of the caller's tenant, newest first (roles approver, admin, owner or auditor).",
  })
  @ApiQuery({ name: 'status', required: false, enum: APPROVAL_TASK_STATUSES })
  @ApiQuery({ name: 'riskClass', required: false, enum: RISK_CLASS_NAMES })
  @ApiQuery({ name: 'team', required: false, description: "The agent's owning team (registry profile owner.team)." })
  list(
    @CallerOf() caller: Caller,
    @Query('status') status?: string,
    @Query('riskClass') riskClass?: string,
    @Query('team') team?: string,
  ) {
    return this.queries.execute(
      new ListApprovalTasks(caller, {
        status: oneOf<ApprovalTaskStatus>('status', status, APPROVAL_TASK_STATUSES),
        riskClass: oneOf<RiskClassName>('riskClass', riskClass, RISK_CLASS_NAMES),
        team: team === undefined || team === '' ? undefined : team,
      }),
    );
  }

  @Get('queues')
  @ApiOperation({ summary: "The caller tenant's open queues: open and escalated tasks by risk class and owning team." })
  queues(@CallerOf() caller: Caller) {
    return this.queries.execute(new ListApprovalQueues(caller));
  }

  @Get('tasks/:id')
  @ApiOperation({
    summary:
      "One approval task of the caller's tenant with all its context: request and redacted arguments, digest, " +
      'diff, blast radius, rollback path, risk, reasons, owner, policy version, votes.',
  })
  get(@Param('id') id: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetApprovalTask(caller, id));
  }

  @Post('tasks/:id/approve')
  @HttpCode(200)
  @ApiBody(VOTE_BODY)
  @ApiOperation({
    summary:
      'Approve a task (roles approver or admin). 400 when it is resolved or expired, 403 for the role or ' +
      'separation of duties, 409 for a second vote or a stale argumentsDigest. Returns once the vote is decided.',
  })
  approve(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    return this.vote(id, body, caller, true);
  }

  @Post('tasks/:id/deny')
  @HttpCode(200)
  @ApiBody(VOTE_BODY)
  @ApiOperation({ summary: 'Deny a task (roles approver or admin); one denial denies it. Same errors as approve.' })
  deny(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    return this.vote(id, body, caller, false);
  }

  private vote(taskId: string, body: unknown, caller: Caller, approve: boolean) {
    const input = Input.of(body ?? {});
    return this.commands.execute(
      new CastApprovalVote(caller, {
        taskId,
        tenantId: caller.tenantId,
        voter: caller.subject,
        voterEmail: caller.email ?? '',
        roles: caller.roles,
        approve,
        comment: input.string('comment', { optional: true, max: 2000 }),
        argumentsDigest: input.string('argumentsDigest', { optional: !approve, max: 200 }),
      }),
    );
  }
}

function oneOf<T extends string>(field: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw invalid('invalid_query', `${field} must be one of ${allowed.join(', ')}`, field);
  }
  return value as T;
}
