import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { RiskClass } from '@warden/contracts';
import { invalid } from '@warden/kernel';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { HandleStandingApprovalCommand, ListStandingApprovals } from '../approval-tasks.cqrs';

const RISK = ['low', 'medium', 'high'] as const;

@ApiTags('standing approvals')
@Controller('standing-approvals')
export class StandingApprovalsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiBody({
    schema: {
      type: 'object',
      required: ['tool', 'maxRiskClass', 'expiresAtMs'],
      properties: {
        standingId: { type: 'string' },
        agentId: { type: 'string', description: 'Empty = any agent of the tenant.' },
        tool: { type: 'string' },
        actions: { type: 'array', items: { type: 'string' }, description: 'Empty = every action of the tool.' },
        maxRiskClass: { type: 'string', enum: [...RISK] },
        maxUses: { type: 'integer', minimum: 0, description: '0 = unlimited.' },
        expiresAtMs: { type: 'integer' },
        reason: { type: 'string' },
      },
    },
  })
  @ApiOperation({ summary: 'Grant a standing approval in the caller tenant (roles admin or approver).' })
  async grant(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const risk = input.string('maxRiskClass');
    if (!(RISK as readonly string[]).includes(risk)) {
      throw invalid('invalid_risk_class', `maxRiskClass must be one of ${RISK.join(', ')}`, 'maxRiskClass');
    }
    return this.commands.execute(
      new HandleStandingApprovalCommand({
        type: 'GrantStandingApproval',
        standingId: input.string('standingId', { optional: true, max: 128 }) || randomUUID(),
        agentId: input.string('agentId', { optional: true, max: 256 }),
        tool: input.string('tool', { max: 256 }),
        actions: input.strings('actions', { optional: true }),
        maxRiskClass: RiskClass[risk.toUpperCase() as keyof typeof RiskClass],
        maxUses: input.int('maxUses', { optional: true, min: 0, max: 1_000_000 }),
        expiresAtMs: input.int('expiresAtMs', { min: 0 }),
        reason: input.string('reason', { optional: true, max: 2000 }),
        by: caller.subject,
        roles: caller.roles,
        tenantId: caller.tenantId,
        now: Date.now(),
      }),
    );
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a standing approval (roles admin or approver, reason required).' })
  revoke(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    return this.commands.execute(
      new HandleStandingApprovalCommand({
        type: 'RevokeStandingApproval',
        standingId: id,
        reason: input.string('reason', { max: 2000 }),
        by: caller.subject,
        roles: caller.roles,
        tenantId: caller.tenantId,
        now: Date.now(),
      }),
    );
  }

  @Get()
  @ApiOperation({ summary: "The caller tenant's standing approvals with their use counts and most recent uses." })
  list(@CallerOf() caller: Caller) {
    return this.queries.execute(new ListStandingApprovals(caller));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One standing approval of the caller tenant with its uses.' })
  get(@Param('id') id: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new ListStandingApprovals(caller, id));
  }
}
