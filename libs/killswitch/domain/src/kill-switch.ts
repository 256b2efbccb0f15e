import {
  create,
  KillSwitchEngaged,
  KillSwitchEngagedSchema,
  KillSwitchReleased,
  KillSwitchReleasedSchema,
  Scope,
  ScopeSchema,
} from '@warden/contracts';
import { assertNever, conflict, Decider, forbidden, invalid, notFound } from '@warden/kernel';

/** Events of one kill switch (stream id = switch id), in wire form. */
export type KillSwitchEvent = KillSwitchEngaged | KillSwitchReleased;

export type KillSwitchState =
  | { readonly status: 'none' }
  | { readonly status: 'engaged'; readonly engaged: KillSwitchEngaged }
  | { readonly status: 'released'; readonly engaged: KillSwitchEngaged; readonly released: KillSwitchReleased };

export interface ScopeInput {
  readonly tenantId?: string;
  readonly agentId?: string;
  readonly runId?: string;
  readonly tool?: string;
}

export type KillSwitchCommand =
  | {
      readonly type: 'EngageKillSwitch';
      readonly switchId: string;
      readonly scope: ScopeInput;
      readonly reason: string;
      readonly by: string;
      readonly roles: readonly string[];
      readonly now: number;
      /** 0 = until released. */
      readonly expiresAtMs: number;
    }
  | {
      readonly type: 'ReleaseKillSwitch';
      readonly switchId: string;
      readonly reason: string;
      readonly by: string;
      readonly roles: readonly string[];
      readonly now: number;
    };

/** Roles allowed to engage or release a kill switch. */
export const KILL_SWITCH_ROLES = ['sre', 'admin'] as const;

const ID = /^[A-Za-z0-9._:@-]{1,128}$/;

function requireRole(roles: readonly string[], action: string): void {
  if (!roles.some((r) => (KILL_SWITCH_ROLES as readonly string[]).includes(r))) {
    throw forbidden('role_required', `${action} a kill switch needs the role sre or admin`);
  }
}

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

export function isActive(
  state: KillSwitchState,
  now: number,
): state is Extract<KillSwitchState, { status: 'engaged' }> {
  return state.status === 'engaged' && (state.engaged.expiresAtMs === 0 || state.engaged.expiresAtMs > now);
}

export const killSwitch: Decider<KillSwitchCommand, KillSwitchState, KillSwitchEvent> = {
  initialState: { status: 'none' },

  decide(command, state) {
    switch (command.type) {
      case 'EngageKillSwitch': {
        requireRole(command.roles, 'engaging');
        requireReason(command.reason);
        if (!ID.test(command.switchId))
          throw invalid('invalid_switch_id', 'switchId must be 1-128 letters, digits or ._:@-', 'switchId');
        if (command.expiresAtMs !== 0 && command.expiresAtMs <= command.now) {
          throw invalid('expiry_in_past', 'expiresAtMs must be in the future', 'expiresAtMs');
        }
        if (state.status !== 'none')
          throw conflict('already_exists', `kill switch ${command.switchId} already exists`, 'switchId');
        return [
          create(KillSwitchEngagedSchema, {
            switchId: command.switchId,
            scope: scopeOf(command.scope),
            reason: command.reason,
            engagedBy: command.by,
            engagedAtMs: command.now,
            expiresAtMs: command.expiresAtMs,
          }),
        ];
      }
      case 'ReleaseKillSwitch': {
        requireRole(command.roles, 'releasing');
        requireReason(command.reason);
        if (state.status === 'none') throw notFound('not_found', `no kill switch ${command.switchId}`);
        if (state.status === 'released')
          throw conflict('already_released', `kill switch ${command.switchId} is already released`);
        return [
          create(KillSwitchReleasedSchema, {
            switchId: command.switchId,
            scope: state.engaged.scope,
            reason: command.reason,
            releasedBy: command.by,
            releasedAtMs: command.now,
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
        return state.status === 'none' ? { status: 'engaged', engaged: event } : state;
      case 'warden.killswitch.v1.KillSwitchReleased':
        return state.status === 'engaged' ? { status: 'released', engaged: state.engaged, released: event } : state;
      default:
        return assertNever(event, 'event');
    }
  },
};
