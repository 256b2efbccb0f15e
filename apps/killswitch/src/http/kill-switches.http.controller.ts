import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { KillSwitchState } from '@warden/killswitch-domain';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { GetKillSwitch, HandleKillSwitchCommand, ListKillSwitches } from '../kill-switches.cqrs';

@ApiTags('kill switches')
@Controller('killswitches')
export class KillSwitchesHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Engage a kill switch (roles sre or admin). Returns once it is recorded in Kafka.' })
  async engage(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const scope = input.object('scope', { optional: true });
    const switchId = input.string('switchId', { optional: true, max: 128 }) || randomUUID();
    const state: KillSwitchState = await this.commands.execute(
      new HandleKillSwitchCommand({
        type: 'EngageKillSwitch',
        switchId,
        scope: {
          tenantId: scope.string('tenantId', { optional: true }),
          agentId: scope.string('agentId', { optional: true }),
          runId: scope.string('runId', { optional: true }),
          tool: scope.string('tool', { optional: true }),
        },
        reason: input.string('reason', { optional: true, max: 2000 }),
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
        expiresAtMs: input.int('expiresAtMs', { optional: true, min: 0 }),
      }),
    );
    return view(state);
  }

  @Post(':id/release')
  @HttpCode(200)
  @ApiOperation({ summary: 'Release a kill switch (roles sre or admin, reason required).' })
  async release(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const state: KillSwitchState = await this.commands.execute(
      new HandleKillSwitchCommand({
        type: 'ReleaseKillSwitch',
        switchId: id,
        reason: input.string('reason', { optional: true, max: 2000 }),
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      }),
    );
    return view(state);
  }

  @Get()
  @ApiOperation({ summary: 'List kill switches: active ones with ?active=true, else the history.' })
  list(@Query('active') active?: string, @Query('tenantId') tenantId?: string) {
    return this.queries.execute(new ListKillSwitches({ active: active === 'true', tenantId }));
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.queries.execute(new GetKillSwitch(id));
  }
}

function view(state: KillSwitchState) {
  if (state.status === 'none') return { status: 'none' };
  const e = state.engaged;
  return {
    switchId: e.switchId,
    status: state.status,
    scope: {
      tenantId: e.scope?.tenantId ?? '',
      agentId: e.scope?.agentId ?? '',
      runId: e.scope?.runId ?? '',
      tool: e.scope?.tool ?? '',
    },
    reason: e.reason,
    engagedBy: e.engagedBy,
    engagedAt: new Date(e.engagedAtMs).toISOString(),
    expiresAt: e.expiresAtMs ? new Date(e.expiresAtMs).toISOString() : null,
    releasedBy: state.status === 'released' ? state.released.releasedBy : null,
    releasedAt: state.status === 'released' ? new Date(state.released.releasedAtMs).toISOString() : null,
  };
}
