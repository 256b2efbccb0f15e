import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { Effect } from '@warden/contracts';
import { Actor, KillSwitchState, liveRuns, Revocation, revocationList, ScopeInput } from '@warden/killswitch-domain';
import { getSwitch, listSwitches, SwitchRow } from '@warden/killswitch-read-models';
import { actsOn, notFound, requireRole, requireTenant } from '@warden/kernel';
import { RowView, rowView, rowViews, ServiceRuntime } from '@warden/platform';
import { KillSwitchConfig } from './config';
import { KILL_SWITCHES, KillSwitches } from './kill-switches';

export const KILLSWITCH_CONFIG = Symbol('KillSwitchConfig');

/** Bus messages: engage and release, the read-model queries, and the revocation list. */
export class EngageKillSwitch {
  constructor(
    readonly input: {
      readonly switchId: string;
      readonly scope: ScopeInput;
      readonly reason: string;
      readonly actor: Actor;
      readonly expiresAtMs: number;
      readonly effects: readonly Effect[];
      readonly now: number;
    },
  ) {}
}
export class ReleaseKillSwitch {
  constructor(
    readonly input: { readonly switchId: string; readonly reason: string; readonly actor: Actor; readonly now: number },
  ) {}
}
export class ListKillSwitches {
  constructor(readonly query: { readonly active: boolean; readonly caller: Actor; readonly tenantId: string }) {}
}
export class GetKillSwitch {
  constructor(
    readonly switchId: string,
    readonly caller: Actor,
  ) {}
}
export class ListRevocations {
  constructor(
    readonly caller: Actor,
    readonly sinceMs: number,
    readonly now: number,
  ) {}
}

/** What a caller may see: its own tenant's switches and the global ones; platform-admin sees every tenant's. */
function visibleTo(caller: Actor, tenantId: string): boolean {
  requireRole(caller, 'tenant.read');
  return tenantId === '' || actsOn(caller, tenantId);
}

@CommandHandler(EngageKillSwitch)
export class EngageKillSwitchHandler implements ICommandHandler<EngageKillSwitch> {
  constructor(
    @Inject(KILL_SWITCHES) private readonly ks: KillSwitches,
    @Inject(KILLSWITCH_CONFIG) private readonly config: KillSwitchConfig,
  ) {}

  async execute({ input }: EngageKillSwitch): Promise<KillSwitchState> {
    await this.ks.context.caughtUp();
    const context = this.ks.context.state;
    const { state } = await this.ks.gateway.handle(
      input.switchId,
      {
        type: 'EngageKillSwitch',
        ...input,
        agents: [...context.agents.values()],
        runs: liveRuns(context, input.now - this.config.liveRunMs),
      },
      { now: input.now, eventId: () => randomUUID() },
    );
    return state;
  }
}

@CommandHandler(ReleaseKillSwitch)
export class ReleaseKillSwitchHandler implements ICommandHandler<ReleaseKillSwitch> {
  constructor(@Inject(KILL_SWITCHES) private readonly ks: KillSwitches) {}

  async execute({ input }: ReleaseKillSwitch): Promise<KillSwitchState> {
    const { state } = await this.ks.gateway.handle(
      input.switchId,
      { type: 'ReleaseKillSwitch', ...input },
      { now: input.now, eventId: () => randomUUID() },
    );
    return state;
  }
}

@QueryHandler(ListKillSwitches)
export class ListKillSwitchesHandler implements IQueryHandler<ListKillSwitches> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ query }: ListKillSwitches): Promise<RowView<SwitchRow>[]> {
    // No tenant named: the caller's own; another tenant, or every tenant (none), needs platform-admin.
    const tenantId = query.tenantId || query.caller.tenantId;
    requireRole(query.caller, 'tenant.read');
    requireTenant(query.caller, tenantId, 'listing kill switches');
    return rowViews(await listSwitches(this.runtime.db, { active: query.active, tenantId }));
  }
}

@QueryHandler(GetKillSwitch)
export class GetKillSwitchHandler implements IQueryHandler<GetKillSwitch> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ switchId, caller }: GetKillSwitch): Promise<RowView<SwitchRow>> {
    const row = await getSwitch(this.runtime.db, switchId);
    if (!row || !visibleTo(caller, row.tenant_id)) throw notFound('not_found', `no kill switch ${switchId}`);
    return rowView(row);
  }
}

@QueryHandler(ListRevocations)
export class ListRevocationsHandler implements IQueryHandler<ListRevocations> {
  constructor(
    @Inject(KILL_SWITCHES) private readonly ks: KillSwitches,
    @Inject(KILLSWITCH_CONFIG) private readonly config: KillSwitchConfig,
  ) {}
  async execute({ caller, sinceMs, now }: ListRevocations): Promise<Revocation[]> {
    await this.ks.switches.caughtUp();
    return revocationList(this.ks.switches.state.values(), now, this.config.revocationRetainMs, (scope) =>
      visibleTo(caller, scope.tenantId),
    ).filter((r) => r.revokedAtMs >= sinceMs);
  }
}

export const killSwitchHandlers = [
  EngageKillSwitchHandler,
  ReleaseKillSwitchHandler,
  ListKillSwitchesHandler,
  GetKillSwitchHandler,
  ListRevocationsHandler,
];
