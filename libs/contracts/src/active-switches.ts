import { Envelope, is } from './envelope';
import {
  KillSwitchEngaged,
  KillSwitchEngagedSchema,
  KillSwitchReleasedSchema,
} from './gen/warden/killswitch/v1/killswitch_pb';
import { scopeCovers, ScopeTarget } from './scope';

/**
 * The kill switches in force, as every enforcing service sees them: folded from
 * killswitch.events. Enforcement (policy, budget, approval) asks `covering(target, now)`.
 */
export type ActiveSwitches = ReadonlyMap<string, KillSwitchEngaged>;

export function evolveActiveSwitches(active: ActiveSwitches, event: Envelope): ActiveSwitches {
  if (is(event, KillSwitchEngagedSchema)) {
    const engaged = event.data;
    if (active.has(engaged.switchId)) return active;
    return new Map(active).set(engaged.switchId, engaged);
  }
  if (is(event, KillSwitchReleasedSchema)) {
    const id = event.data.switchId;
    if (!active.has(id)) return active;
    const next = new Map(active);
    next.delete(id);
    return next;
  }
  return active;
}

/** The switches in force at `now` whose scope covers the target, oldest first. */
export function covering(active: ActiveSwitches, target: ScopeTarget, now: number): KillSwitchEngaged[] {
  const out: KillSwitchEngaged[] = [];
  for (const s of active.values()) {
    if ((s.expiresAtMs === 0 || s.expiresAtMs > now) && scopeCovers(s.scope, target)) out.push(s);
  }
  return out.sort((a, b) => a.engagedAtMs - b.engagedAtMs);
}
