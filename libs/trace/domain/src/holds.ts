import { create, HoldKind, HoldPlaced, HoldPlacedSchema, HoldReleased, HoldReleasedSchema } from '@warden/contracts';
import { assertNever, conflict, Decider, invalid, notFound, ownTenant } from '@warden/kernel';

/**
 * Legal and incident holds (docs/adr/0063): a held run's traces are exempt from retention. A
 * hold is an event on trace.holds (keyed by tenant id), so holds survive any rebuild.
 */
export type HoldCommand =
  | {
      readonly type: 'PlaceHold';
      readonly holdId: string;
      readonly tenantId: string;
      readonly runId: string;
      readonly agentId: string;
      readonly kind: 'legal' | 'incident';
      readonly reason: string;
      readonly by: string;
      readonly roles: readonly string[];
      readonly now: number;
    }
  | {
      readonly type: 'ReleaseHold';
      readonly holdId: string;
      readonly tenantId: string;
      readonly reason: string;
      readonly by: string;
      readonly roles: readonly string[];
      readonly now: number;
    };

export type HoldEvent = HoldPlaced | HoldReleased;

/** Per tenant: each hold id and whether it is in force. */
export interface HoldsState {
  readonly holds: ReadonlyMap<string, 'placed' | 'released'>;
}

export const HOLD_KINDS = { legal: HoldKind.LEGAL, incident: HoldKind.INCIDENT } as const;

export const holds: Decider<HoldCommand, HoldsState, HoldEvent> = {
  initialState: { holds: new Map() },

  decide(cmd, state) {
    ownTenant(cmd, 'trace.holds.write');
    const current = state.holds.get(cmd.holdId);
    switch (cmd.type) {
      case 'PlaceHold':
        if (!cmd.runId) throw invalid('missing_run', 'runId is required', 'runId');
        if (!cmd.reason) throw invalid('missing_reason', 'a hold needs a reason', 'reason');
        if (current) throw conflict('hold_exists', `hold ${cmd.holdId} already exists`);
        return [
          create(HoldPlacedSchema, {
            holdId: cmd.holdId,
            tenantId: cmd.tenantId,
            runId: cmd.runId,
            agentId: cmd.agentId,
            kind: HOLD_KINDS[cmd.kind],
            reason: cmd.reason,
            placedBy: cmd.by,
            placedAtMs: cmd.now,
          }),
        ];
      case 'ReleaseHold':
        if (!current) throw notFound('not_found', `no hold ${cmd.holdId}`);
        if (current === 'released') throw conflict('hold_released', `hold ${cmd.holdId} is already released`);
        if (!cmd.reason) throw invalid('missing_reason', 'releasing a hold needs a reason', 'reason');
        return [
          create(HoldReleasedSchema, {
            holdId: cmd.holdId,
            tenantId: cmd.tenantId,
            reason: cmd.reason,
            releasedBy: cmd.by,
            releasedAtMs: cmd.now,
          }),
        ];
      default:
        return assertNever(cmd, 'command');
    }
  },

  evolve(state, event) {
    const current = state.holds.get(event.holdId);
    if (event.$typeName === 'warden.trace.v1.HoldPlaced') {
      if (current) return state;
      return { holds: new Map(state.holds).set(event.holdId, 'placed') };
    }
    if (current !== 'placed') return state;
    return { holds: new Map(state.holds).set(event.holdId, 'released') };
  },
};
