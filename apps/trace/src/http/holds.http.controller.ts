import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { invalid, ownTenant } from '@warden/kernel';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { HOLD_KINDS } from '@warden/trace-domain';
import { HandleHoldCommand, ListHolds } from '../trace.cqrs';

@ApiTags('holds')
@Controller('holds')
export class HoldsHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get()
  @ApiOperation({
    summary: "The tenant's held runs (legal or incident hold, or under a kill switch) and every hold placed.",
  })
  list(@CallerOf() caller: Caller) {
    return this.queries.execute(new ListHolds(ownTenant(caller, 'trace.read')));
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Place a hold on a run of the tenant (roles auditor or admin): {runId, agentId?, kind: legal|incident, reason}.',
  })
  place(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const kind = input.string('kind', { optional: true }) || 'legal';
    if (!Object.hasOwn(HOLD_KINDS, kind)) throw invalid('invalid_kind', 'kind must be legal or incident', 'kind');
    return this.commands.execute(
      new HandleHoldCommand({
        type: 'PlaceHold',
        holdId: input.string('holdId', { optional: true, max: 128 }) || randomUUID(),
        tenantId: caller.tenantId,
        runId: input.string('runId', { max: 256 }),
        agentId: input.string('agentId', { optional: true, max: 256 }),
        kind: kind as keyof typeof HOLD_KINDS,
        reason: input.string('reason', { max: 2000 }),
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      }),
    );
  }

  @Post(':id/release')
  @HttpCode(200)
  @ApiOperation({ summary: 'Release a hold (roles auditor or admin, reason required).' })
  release(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    return this.commands.execute(
      new HandleHoldCommand({
        type: 'ReleaseHold',
        holdId: id,
        tenantId: caller.tenantId,
        reason: input.string('reason', { max: 2000 }),
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      }),
    );
  }
}
