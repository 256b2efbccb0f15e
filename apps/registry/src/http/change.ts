import { Input } from '@warden/platform';
import { Caller } from '@warden/platform/nest';

/** Who makes a change, with which roles, why and when: what every registry command carries. */
export function changeBy(input: Input, caller: Caller) {
  return {
    by: caller.subject,
    roles: caller.roles,
    reason: input.string('reason', { optional: true, max: 2000 }),
    now: Date.now(),
  };
}
