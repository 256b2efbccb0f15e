import {
  create,
  DecisionTokensRevoked,
  DecisionTokensRevokedSchema,
  Effect,
  KillSwitchEngaged,
  KillSwitchEngagedSchema,
  KillSwitchReleased,
  KillSwitchReleasedSchema,
  OwnerNotificationDelivered,
  OwnerNotified,
  OwnerNotifiedSchema,
  RunHalted,
  RunHaltedSchema,
  Scope,
  ScopeSchema,
  scopeCovers,
} from '@warden/contracts';
import { assertNever, conflict, Decider, invalid, notFound, requireRole, requireTenant } from '@warden/kernel';
import { applies } from './effects';

/**
 * Events of one kill switch, in wire form. The stream id is the switch id (`switchIdOf`), also
 * for RunHalted, which travels keyed by run id so orchestrators read a run's events in order.
 */
export type KillSwitchEvent =
  | KillSwitchEngaged
  | KillSwitchReleased
  | DecisionTokensRevoked
  | OwnerNotified
  | OwnerNotificationDelivered
  | RunHalted;

interface Effects {
  /** Runs this switch halted (RunHalted seen), so each run is halted once per switch. */
  readonly haltedRuns: ReadonlySet<string>;
  readonly revoked?: DecisionTokensRevoked;
  readonly notified: readonly OwnerNotified[];
  readonly deliveries: readonly OwnerNotificationDelivered[];
}

export type KillSwitchState =
  | ({ readonly status: 'none' } & Effects)
  | ({ readonly status: 'engaged'; readonly engaged: KillSwitchEngaged } & Effects)
  | ({
      readonly status: 'released';
      readonly engaged: KillSwitchEngaged;
      readonly released: KillSwitchReleased;
    } & Effects);

export interface ScopeInput {
  readonly tenantId?: string;
  readonly agentId?: string;
  readonly runId?: string;
  readonly tool?: string;
}

/** An agent the registry knows, with its owner: who effect 7 notifies. */
export interface KnownAgent {
  readonly agentId: string;
  readonly tenantId: string;
  readonly team: string;
  readonly contact: string;
}

/** A run seen on the gate recently: who effect 8 halts, naming its last completed step. */
export interface LiveRun {
  readonly runId: string;
  readonly tenantId: string;
  readonly agentId: string;
  /** Tools the run asked for; a tool-scoped switch halts only runs that used the tool. */
  readonly tools: readonly string[];
  readonly lastCompletedStepId: string;
  readonly lastCompletedRequestId: string;
}

/** Who is asking, for the role and tenant checks. */
export interface Actor {
  readonly by: string;
  readonly roles: readonly string[];
  /** The caller's tenant; only platform-admin may act outside it (or globally). */
  readonly tenantId: string;
}

export type KillSwitchCommand =
  | {
      readonly type: 'EngageKillSwitch';
      readonly switchId: string;
      readonly scope: ScopeInput;
      readonly reason: string;
      readonly actor: Actor;
      readonly now: number;
      /** 0 = until released. */
      readonly expiresAtMs: number;
      /** Empty = all eight. */
      readonly effects: readonly Effect[];
      /** What the service knows at engage time (registry agents, live runs); the decider picks those in scope. */
      readonly agents: readonly KnownAgent[];
      readonly runs: readonly LiveRun[];
    }
  | {
      readonly type: 'ReleaseKillSwitch';
      readonly switchId: string;
      readonly reason: string;
      readonly actor: Actor;
      readonly now: number;
    }
  | {
      /** A clock tick: releases the switch as "system" once its expiry has passed; otherwise nothing. */
      readonly type: 'ExpireKillSwitch';
      readonly switchId: string;
      readonly now: number;
    };

export const SYSTEM_ACTOR = 'system';

const ID = /^[A-Za-z0-9._:@-]{1,128}$/;

const noEffects: Effects = { haltedRuns: new Set(), notified: [], deliveries: [] };

function requireReason(reason: string): void {
  if (reason.trim().length === 0) throw invalid('reason_required', 'a reason is required', 'reason');
}

function scopeOf(input: ScopeInput): Scope {
  for (const key of ['tenantId', 'agentId', 'runId', 'tool'] as const) {
    const v = input[key];
    if (v !== undefined && v !== '' && !ID.test(v)) {
      throw invalid('invalid_scope', `scope.${key} must be 1-128 letters, digits or ._:@-`, `scope.${key}`);
    }
  }
  return create(ScopeSchema, {
    tenantId: input.tenantId ?? '',
    agentId: input.agentId ?? '',
    runId: input.runId ?? '',
    tool: input.tool ?? '',
  });
}

/** The stream (switch id) an event belongs to. */
export function switchIdOf(event: KillSwitchEvent): string {
  return event.switchId;
}

export function isActive(
  state: KillSwitchState,
  now: number,
): state is Extract<KillSwitchState, { status: 'engaged' }> {
  return state.status === 'engaged' && (state.engaged.expiresAtMs === 0 || state.engaged.expiresAtMs > now);
}

/** Runs the scope covers; a tool in the scope narrows to runs that asked for that tool. */
export function coveredRuns(scope: Scope, runs: readonly LiveRun[]): LiveRun[] {
  return runs.filter(
    (r) =>
      scopeCovers({ ...scope, tool: '' }, { tenantId: r.tenantId, agentId: r.agentId, runId: r.runId, tool: '' }) &&
      (scope.tool === '' || r.tools.includes(scope.tool)),
  );
}

/**
 * Owners to notify: of the agents the scope names (by tenant and agent; a run-scoped switch
 * reaches only the agents of its runs) and of the covered runs' agents, grouped per owner.
 */
export function affectedOwners(
  scope: Scope,
  agents: readonly KnownAgent[],
  runs: readonly LiveRun[],
): { team: string; contact: string; agentIds: string[] }[] {
  const byId = new Map(agents.map((a) => [`${a.tenantId}/${a.agentId}`, a]));
  const hit = new Map<string, KnownAgent>();
  if (scope.runId === '') {
    for (const a of agents) {
      if (scopeCovers({ ...scope, tool: '' }, { tenantId: a.tenantId, agentId: a.agentId, runId: '', tool: '' }))
        hit.set(`${a.tenantId}/${a.agentId}`, a);
    }
  }
  for (const r of runs) {
    const a = byId.get(`${r.tenantId}/${r.agentId}`);
    if (a) hit.set(`${a.tenantId}/${a.agentId}`, a);
  }
  const owners = new Map<string, { team: string; contact: string; agentIds: string[] }>();
  for (const a of hit.values()) {
    if (a.team === '' && a.contact === '') continue;
    const key = `${a.team}\u0000${a.contact}`;
    const owner = owners.get(key) ?? { team: a.team, contact: a.contact, agentIds: [] };
    owner.agentIds.push(a.agentId);
    owners.set(key, owner);
  }
  return [...owners.values()]
    .map((o) => ({ ...o, agentIds: [...new Set(o.agentIds)].sort() }))
    .sort((x, y) => x.team.localeCompare(y.team) || x.contact.localeCompare(y.contact));
}

export function runHalted(engaged: KillSwitchEngaged, run: LiveRun, now: number): RunHalted {
  return create(RunHaltedSchema, {
    runId: run.runId,
    tenantId: run.tenantId,
    agentId: run.agentId,
    switchId: engaged.switchId,
    reason: engaged.reason,
    lastCompletedStepId: run.lastCompletedStepId,
    lastCompletedRequestId: run.lastCompletedRequestId,
    haltedAtMs: now,
  });
}

export const killSwitch: Decider<KillSwitchCommand, KillSwitchState, KillSwitchEvent> = {
  initialState: { status: 'none', ...noEffects },

  decide(command, state) {
    switch (command.type) {
      case 'EngageKillSwitch': {
        requireRole(command.actor, 'killswitch.write');
        requireReason(command.reason);
        if (!ID.test(command.switchId))
          throw invalid('invalid_switch_id', 'switchId must be 1-128 letters, digits or ._:@-', 'switchId');
        if (command.expiresAtMs !== 0 && command.expiresAtMs <= command.now) {
          throw invalid('expiry_in_past', 'expiresAtMs must be in the future', 'expiresAtMs');
        }
        const scope = scopeOf(command.scope);
        // A switch of another tenant, or a global one, needs platform-admin.
        requireTenant(command.actor, scope.tenantId, 'engaging a kill switch');
        if (state.status !== 'none')
          throw conflict('already_exists', `kill switch ${command.switchId} already exists`, 'switchId');
        const engaged = create(KillSwitchEngagedSchema, {
          switchId: command.switchId,
          scope,
          reason: command.reason,
          engagedBy: command.actor.by,
          engagedAtMs: command.now,
          expiresAtMs: command.expiresAtMs,
          effects: [...command.effects],
        });
        const events: KillSwitchEvent[] = [engaged];
        if (applies(engaged, Effect.REVOKE_TOOLS)) {
          events.push(
            create(DecisionTokensRevokedSchema, {
              switchId: engaged.switchId,
              scope,
              issuedBeforeMs: command.now,
              revokedAtMs: command.now,
            }),
          );
        }
        const runs = coveredRuns(scope, command.runs);
        if (applies(engaged, Effect.NOTIFY_OWNER)) {
          affectedOwners(scope, command.agents, runs).forEach((owner, i) =>
            events.push(
              create(OwnerNotifiedSchema, {
                switchId: engaged.switchId,
                scope,
                reason: engaged.reason,
                engagedBy: engaged.engagedBy,
                team: owner.team,
                contact: owner.contact,
                agentIds: owner.agentIds,
                notifiedAtMs: command.now,
                notificationId: `${engaged.switchId}.owner.${i}`,
              }),
            ),
          );
        }
        if (applies(engaged, Effect.SAFE_STATE)) {
          for (const run of runs)
            if (!state.haltedRuns.has(run.runId)) events.push(runHalted(engaged, run, command.now));
        }
        return events;
      }
      case 'ReleaseKillSwitch': {
        requireRole(command.actor, 'killswitch.write');
        requireReason(command.reason);
        if (state.status === 'none') throw notFound('not_found', `no kill switch ${command.switchId}`);
        requireTenant(command.actor, state.engaged.scope?.tenantId ?? '', 'releasing a kill switch');
        if (state.status === 'released')
          throw conflict('already_released', `kill switch ${command.switchId} is already released`);
        return [
          create(KillSwitchReleasedSchema, {
            switchId: command.switchId,
            scope: state.engaged.scope,
            reason: command.reason,
            releasedBy: command.actor.by,
            releasedAtMs: command.now,
          }),
        ];
      }
      case 'ExpireKillSwitch': {
        if (state.status !== 'engaged' || state.engaged.expiresAtMs === 0 || command.now < state.engaged.expiresAtMs)
          return [];
        return [
          create(KillSwitchReleasedSchema, {
            switchId: command.switchId,
            scope: state.engaged.scope,
            reason: `expired at ${new Date(state.engaged.expiresAtMs).toISOString()}`,
            releasedBy: SYSTEM_ACTOR,
            releasedAtMs: command.now,
            expired: true,
          }),
        ];
      }
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    switch (event.$typeName) {
      case 'warden.killswitch.v1.KillSwitchEngaged':
        return state.status === 'none' ? { ...state, status: 'engaged', engaged: event } : state;
      case 'warden.killswitch.v1.KillSwitchReleased':
        return state.status === 'engaged' ? { ...state, status: 'released', released: event } : state;
      case 'warden.killswitch.v1.DecisionTokensRevoked':
        return state.revoked ? state : { ...state, revoked: event };
      case 'warden.killswitch.v1.OwnerNotified':
        return { ...state, notified: [...state.notified, event] };
      case 'warden.killswitch.v1.OwnerNotificationDelivered':
        return { ...state, deliveries: [...state.deliveries, event] };
      case 'warden.killswitch.v1.RunHalted':
        return state.haltedRuns.has(event.runId)
          ? state
          : { ...state, haltedRuns: new Set([...state.haltedRuns, event.runId]) };
      default:
        return assertNever(event, 'event');
    }
  },
};
