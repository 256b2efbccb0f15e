import { forbidden } from '@warden/kernel';
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

/** For queries: the caller must hold one of `roles`. */
export function requireRole(caller: Caller, roles: readonly string[], what: string): void {
  if (!caller.roles.some((r) => roles.includes(r)))
    throw forbidden('role_required', `${what} needs one of the roles ${roles.join(', ')}`);
}
