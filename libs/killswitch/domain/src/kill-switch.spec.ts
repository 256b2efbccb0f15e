import { create, KillSwitchEngagedSchema, KillSwitchReleasedSchema, ScopeSchema } from '@warden/contracts';
import { given } from '@warden/kernel';
import { killSwitch, KillSwitchCommand } from './kill-switch';

const now = 1_700_000_000_000;
const engage = (over: Partial<Extract<KillSwitchCommand, { type: 'EngageKillSwitch' }>> = {}): KillSwitchCommand => ({
  type: 'EngageKillSwitch',
  switchId: 'ks-1',
  scope: { tenantId: 'acme', agentId: 'payroll-bot' },
  reason: 'paying the wrong accounts',
  by: 'alice',
  roles: ['sre'],
  now,
  expiresAtMs: 0,
  ...over,
});
const release = (over: Partial<Extract<KillSwitchCommand, { type: 'ReleaseKillSwitch' }>> = {}): KillSwitchCommand => ({
  type: 'ReleaseKillSwitch',
  switchId: 'ks-1',
  reason: 'fixed',
  by: 'bob',
  roles: ['admin'],
  now: now + 1000,
  ...over,
});
const engaged = create(KillSwitchEngagedSchema, {
  switchId: 'ks-1',
  scope: create(ScopeSchema, { tenantId: 'acme', agentId: 'payroll-bot' }),
  reason: 'paying the wrong accounts',
  engagedBy: 'alice',
  engagedAtMs: now,
});

describe('kill switch decider', () => {
  it('engages with scope, reason, who and when', () => {
    given(killSwitch).when(engage()).then([engaged]);
  });

  it('engages a global switch when the scope is empty', () => {
    const [event] = given(killSwitch)
      .when(engage({ scope: {} }))
      .thenEvents();
    expect(event.$typeName).toBe('warden.killswitch.v1.KillSwitchEngaged');
    expect((event as typeof engaged).scope).toEqual(create(ScopeSchema, {}));
  });

  it('refuses engaging without the sre or admin role', () => {
    given(killSwitch)
      .when(engage({ roles: ['owner'] }))
      .thenThrows('forbidden', 'role_required');
  });

  it('refuses a missing reason, naming the field', () => {
    const error = given(killSwitch)
      .when(engage({ reason: '  ' }))
      .thenThrows('invalid', 'reason_required');
    expect(error.field).toBe('reason');
  });

  it('refuses a malformed scope id, naming the field', () => {
    const error = given(killSwitch)
      .when(engage({ scope: { agentId: 'no spaces allowed' } }))
      .thenThrows('invalid', 'invalid_scope');
    expect(error.field).toBe('scope.agentId');
  });

  it('refuses an expiry in the past', () => {
    given(killSwitch)
      .when(engage({ expiresAtMs: now - 1 }))
      .thenThrows('invalid', 'expiry_in_past');
  });

  it('refuses engaging the same switch id twice', () => {
    given(killSwitch, [engaged]).when(engage()).thenThrows('conflict', 'already_exists');
  });

  it('releases with a role and a reason', () => {
    given(killSwitch, [engaged])
      .when(release())
      .then([
        create(KillSwitchReleasedSchema, {
          switchId: 'ks-1',
          scope: engaged.scope,
          reason: 'fixed',
          releasedBy: 'bob',
          releasedAtMs: now + 1000,
        }),
      ]);
  });

  it('refuses release without role, without reason, of an unknown or released switch', () => {
    given(killSwitch, [engaged])
      .when(release({ roles: [] }))
      .thenThrows('forbidden', 'role_required');
    given(killSwitch, [engaged])
      .when(release({ reason: '' }))
      .thenThrows('invalid', 'reason_required');
    given(killSwitch).when(release()).thenThrows('not_found', 'not_found');
    const released = create(KillSwitchReleasedSchema, { switchId: 'ks-1', reason: 'fixed' });
    given(killSwitch, [engaged, released]).when(release()).thenThrows('conflict', 'already_released');
  });

  it('ignores a second engage event for the same stream (the first writer wins)', () => {
    const state = given(killSwitch, [engaged]).state;
    expect(killSwitch.evolve(state, { ...engaged, reason: 'late' })).toBe(state);
  });
});
