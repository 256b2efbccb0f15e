import {
  create,
  DecisionTokensRevokedSchema,
  KillSwitchEngagedSchema,
  KillSwitchReleasedSchema,
  ScopeSchema,
} from '@warden/contracts';
import { fold } from '@warden/kernel';
import { killSwitch, KillSwitchEvent } from './kill-switch';
import { isRevoked, revocationList } from './revocations';

const t0 = 1_700_000_000_000;
const scope = create(ScopeSchema, { tenantId: 'acme', tool: 'bank.transfer' });
const state = (events: KillSwitchEvent[]) => fold(killSwitch.evolve, killSwitch.initialState, events);
const engaged = create(KillSwitchEngagedSchema, { switchId: 'ks-1', scope, engagedAtMs: t0 });
const revoked = create(DecisionTokensRevokedSchema, { switchId: 'ks-1', scope, issuedBeforeMs: t0, revokedAtMs: t0 });

describe('revocation list', () => {
  const retain = 60_000;

  it('lists the revocation of an engaged switch', () => {
    expect(revocationList([state([engaged, revoked])], t0 + 1, retain)).toEqual([
      {
        switchId: 'ks-1',
        scope: { tenantId: 'acme', agentId: '', runId: '', tool: 'bank.transfer' },
        issuedBeforeMs: t0,
        revokedAtMs: t0,
      },
    ]);
  });

  it('keeps it for the retention after release, then drops it; a switch without REVOKE_TOOLS has none', () => {
    const released = state([
      engaged,
      revoked,
      create(KillSwitchReleasedSchema, { switchId: 'ks-1', releasedAtMs: t0 + 5 }),
    ]);
    expect(revocationList([released], t0 + 5 + retain - 1, retain)).toHaveLength(1);
    expect(revocationList([released], t0 + 5 + retain, retain)).toEqual([]);
    expect(revocationList([state([engaged])], t0 + 1, retain)).toEqual([]);
  });

  it('a tool checks a decision token: in scope and issued before the revocation means revoked', () => {
    const list = revocationList([state([engaged, revoked])], t0 + 1, retain);
    const claims = { tenant: 'acme', sub: 'bot', aud: 'bank.transfer', run: 'r-1', iatMs: t0 - 1 };
    expect(isRevoked(list, claims)?.switchId).toBe('ks-1');
    expect(isRevoked(list, { ...claims, iatMs: t0 })).toBeUndefined();
    expect(isRevoked(list, { ...claims, aud: 'email.send' })).toBeUndefined();
    expect(isRevoked(list, { ...claims, tenant: 'globex' })).toBeUndefined();
  });
});
