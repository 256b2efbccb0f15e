import { ChangeSchema, create, KeyUse, SigningKeyRetiredSchema, SigningKeyRotatedSchema } from '@warden/contracts';
import { given } from '@warden/kernel';
import { liveKeys, SigningKeyCommand, signingKeys } from './signing-keys';

const now = 1_700_000_000_000;
const change = create(ChangeSchema, { by: 'registry', reason: 'first start', atMs: now });
const rotate = (over: Partial<Extract<SigningKeyCommand, { type: 'RotateSigningKey' }>> = {}): SigningKeyCommand => ({
  type: 'RotateSigningKey',
  use: KeyUse.AGENT_TOKEN,
  kid: 'k1',
  alg: 'EdDSA',
  publicJwk: '{"kty":"OKP"}',
  sealedPrivateKey: 'v1.a.b.c',
  onlyIfNone: false,
  by: 'registry',
  roles: ['platform-admin'],
  reason: 'first start',
  now,
  ...over,
});
const retire = (kid: string, over: Partial<Extract<SigningKeyCommand, { type: 'RetireSigningKey' }>> = {}) =>
  ({
    type: 'RetireSigningKey',
    kid,
    by: 'alice',
    roles: ['platform-admin'],
    reason: 'leaked',
    now,
    ...over,
  }) as SigningKeyCommand;
const rotated = (kid: string, use = KeyUse.AGENT_TOKEN) =>
  create(SigningKeyRotatedSchema, {
    kid,
    use,
    alg: 'EdDSA',
    publicJwk: '{"kty":"OKP"}',
    sealedPrivateKey: 'v1.a.b.c',
    activatedAtMs: now,
    change,
  });

describe('signing keys decider', () => {
  it('rotates a key in: it becomes the active key of its use', () => {
    given(signingKeys)
      .when(rotate())
      .then([rotated('k1')]);
    const state = given(signingKeys, [rotated('k1'), rotated('d1', KeyUse.DECISION_TOKEN), rotated('k2')]).state;
    expect(state.active.get(KeyUse.AGENT_TOKEN)).toBe('k2');
    expect(state.active.get(KeyUse.DECISION_TOKEN)).toBe('d1');
    expect(liveKeys(state).map((k) => k.kid)).toEqual(['k1', 'd1', 'k2']);
  });

  it('at first start rotates only when the use has no active key', () => {
    given(signingKeys)
      .when(rotate({ onlyIfNone: true }))
      .then([rotated('k1')]);
    given(signingKeys, [rotated('k1')])
      .when(rotate({ kid: 'k2', onlyIfNone: true }))
      .then([]);
    given(signingKeys, [rotated('k1')])
      .when(rotate({ kid: 'd1', use: KeyUse.DECISION_TOKEN, onlyIfNone: true }))
      .thenEvents();
  });

  it('refuses a taken kid, a bad kid, another algorithm, an unknown use and anyone but a platform admin (a tenant admin too)', () => {
    given(signingKeys, [rotated('k1')])
      .when(rotate())
      .thenThrows('conflict', 'kid_taken');
    given(signingKeys)
      .when(rotate({ kid: 'a b' }))
      .thenThrows('invalid', 'invalid_kid');
    given(signingKeys)
      .when(rotate({ alg: 'RS256' }))
      .thenThrows('invalid', 'invalid_alg');
    given(signingKeys)
      .when(rotate({ use: KeyUse.UNSPECIFIED }))
      .thenThrows('invalid', 'invalid_key_use');
    given(signingKeys)
      .when(rotate({ roles: ['admin', 'owner', 'sre'] }))
      .thenThrows('forbidden', 'role_required');
  });

  it('retires a key that is no longer active; it leaves the live keys', () => {
    const retired = create(SigningKeyRetiredSchema, {
      kid: 'k1',
      use: KeyUse.AGENT_TOKEN,
      change: create(ChangeSchema, { by: 'alice', reason: 'leaked', atMs: now }),
    });
    given(signingKeys, [rotated('k1'), rotated('k2')])
      .when(retire('k1'))
      .then([retired]);
    const state = given(signingKeys, [rotated('k1'), rotated('k2'), retired]).state;
    expect(liveKeys(state).map((k) => k.kid)).toEqual(['k2']);
    expect(state.active.get(KeyUse.AGENT_TOKEN)).toBe('k2');
  });

  it('refuses to retire the active key, an unknown or retired key, without a reason or role', () => {
    given(signingKeys, [rotated('k1')])
      .when(retire('k1'))
      .thenThrows('conflict', 'key_active');
    given(signingKeys).when(retire('nope')).thenThrows('not_found', 'key_not_found');
    const retired = create(SigningKeyRetiredSchema, { kid: 'k1', use: KeyUse.AGENT_TOKEN });
    given(signingKeys, [rotated('k1'), rotated('k2'), retired])
      .when(retire('k1'))
      .thenThrows('not_found');
    given(signingKeys, [rotated('k1'), rotated('k2')])
      .when(retire('k1', { reason: ' ' }))
      .thenThrows('invalid');
    given(signingKeys, [rotated('k1'), rotated('k2')])
      .when(retire('k1', { roles: ['admin', 'sre'] }))
      .thenThrows('forbidden');
  });

  it('ignores a duplicate rotation on replay', () => {
    const once = given(signingKeys, [rotated('k1')]).state;
    expect(signingKeys.evolve(once, rotated('k1'))).toBe(once);
  });
});
