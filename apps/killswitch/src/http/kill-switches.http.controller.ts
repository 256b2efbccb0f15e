import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { Effect } from '@warden/contracts';
import { EFFECT_NAMES, KillSwitchState, parseEffects } from '@warden/killswitch-domain';
import { invalid } from '@warden/kernel';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { EngageKillSwitch, GetKillSwitch, ListKillSwitches, ReleaseKillSwitch } from '../kill-switches.cqrs';

const SCOPE_FIELDS = ['tenantId', 'agentId', 'runId', 'tool'];
const ENGAGE_FIELDS = ['switchId', 'scope', 'reason', 'effects', 'expiresAtMs'];

/** Unknown fields are refused by name, so a typo ("tennantId") never widens a scope to global. */
function refuseUnknown(body: unknown, allowed: readonly string[], path = ''): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      const field = path ? `${path}.${key}` : key;
      throw invalid('unknown_field', `${field} is not one of ${allowed.join(', ')}`, field);
    }
  }
}

const actorOf = (caller: Caller) => ({ by: caller.subject, roles: caller.roles, tenantId: caller.tenantId });

@ApiTags('kill switches')
@Controller('killswitches')
export class KillSwitchesHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Engage a kill switch (roles sre or admin inside their own tenant; another tenant or global needs platform-admin). ' +
      'Returns once the switch and its effects are recorded in Kafka and applied by this instance.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['reason'],
      properties: {
        switchId: { type: 'string', description: 'defaults to a new UUID' },
        scope: {
          type: 'object',
          description: 'unset fields are wildcards; empty = global',
          properties: Object.fromEntries(SCOPE_FIELDS.map((f) => [f, { type: 'string' }])),
        },
        reason: { type: 'string' },
        effects: {
          type: 'array',
          items: { type: 'string', enum: Object.keys(EFFECT_NAMES) },
          description: 'empty = all',
        },
        expiresAtMs: { type: 'integer', description: 'epoch ms; 0 or absent = until released' },
      },
    },
  })
  async engage(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    refuseUnknown(body, ENGAGE_FIELDS);
    const scope = input.object('scope', { optional: true });
    refuseUnknown((body as Record<string, unknown>).scope, SCOPE_FIELDS, 'scope');
    const state: KillSwitchState = await this.commands.execute(
      new EngageKillSwitch({
        switchId: input.string('switchId', { optional: true, max: 128 }) || randomUUID(),
        scope: {
          tenantId: scope.string('tenantId', { optional: true }),
          agentId: scope.string('agentId', { optional: true }),
          runId: scope.string('runId', { optional: true }),
          tool: scope.string('tool', { optional: true }),
        },
        reason: input.string('reason', { optional: true, max: 2000 }),
        actor: actorOf(caller),
        now: Date.now(),
        expiresAtMs: input.int('expiresAtMs', { optional: true, min: 0 }),
        effects: parseEffects(input.strings('effects', { optional: true })),
      }),
    );
    return view(state);
  }

  @Post(':id/release')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Release a kill switch (roles sre or admin, own tenant unless platform-admin; reason required).',
  })
  @ApiBody({ schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } } })
  async release(@Param('id') id: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    refuseUnknown(body, ['reason']);
    const state: KillSwitchState = await this.commands.execute(
      new ReleaseKillSwitch({
        switchId: id,
        reason: input.string('reason', { optional: true, max: 2000 }),
        actor: actorOf(caller),
        now: Date.now(),
      }),
    );
    return view(state);
  }

  @Get()
  @ApiOperation({
    summary:
      'Kill switches, newest first: the active ones with ?active=true, else the history (released and expired too). ' +
      "The caller's own tenant's and the global ones; platform-admin names any tenant, or none for all.",
  })
  @ApiQuery({ name: 'active', required: false, type: Boolean })
  @ApiQuery({
    name: 'tenantId',
    required: false,
    description: "one tenant (and the global switches); another than the caller's needs platform-admin",
  })
  list(@CallerOf() caller: Caller, @Query('active') active?: string, @Query('tenantId') tenantId?: string) {
    return this.queries.execute(
      new ListKillSwitches({ active: active === 'true', caller: actorOf(caller), tenantId: tenantId ?? '' }),
    );
  }

  @Get(':id')
  @ApiOperation({ summary: 'One kill switch (404 for another tenant’s unless platform-admin).' })
  get(@Param('id') id: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetKillSwitch(id, actorOf(caller)));
  }
}

export function view(state: KillSwitchState) {
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
    effects: e.effects.length === 0 ? Object.keys(EFFECT_NAMES) : e.effects.map((x) => Effect[x]),
    engagedBy: e.engagedBy,
    engagedAt: new Date(e.engagedAtMs).toISOString(),
    expiresAt: e.expiresAtMs ? new Date(e.expiresAtMs).toISOString() : null,
    releasedBy: state.status === 'released' ? state.released.releasedBy : null,
    releasedAt: state.status === 'released' ? new Date(state.released.releasedAtMs).toISOString() : null,
    expired: state.status === 'released' && state.released.expired,
    tokensRevokedBefore: state.revoked ? new Date(state.revoked.issuedBeforeMs).toISOString() : null,
    ownersNotified: state.notified.map((n) => ({ team: n.team, contact: n.contact, agentIds: n.agentIds })),
    runsHalted: [...state.haltedRuns].sort(),
  };
}
