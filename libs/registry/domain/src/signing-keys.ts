import {
  Change,
  ChangeSchema,
  create,
  KeyUse,
  SigningKeyRetired,
  SigningKeyRetiredSchema,
  SigningKeyRotated,
  SigningKeyRotatedSchema,
} from '@warden/contracts';
import { assertNever, conflict, Decider, invalid, notFound, requireRole } from '@warden/kernel';
import { isId } from './agent-profile';

/** The one stream of signing keys on registry.events. */
export const KEYS_STREAM = 'keys';

export type SigningKeyEvent = SigningKeyRotated | SigningKeyRetired;

export interface SigningKey {
  readonly kid: string;
  readonly use: KeyUse;
  readonly alg: string;
  readonly publicJwk: string;
  readonly sealedPrivateKey: string;
  readonly activatedAtMs: number;
  readonly retired: boolean;
  readonly change: Change;
}

export interface SigningKeysState {
  /** Every key ever rotated in, by kid, in order of activation. */
  readonly keys: ReadonlyMap<string, SigningKey>;
  /** The active (most recently rotated, live) kid per use. */
  readonly active: ReadonlyMap<KeyUse, string>;
}

interface ChangeBy {
  readonly by: string;
  readonly roles: readonly string[];
  readonly reason: string;
  readonly now: number;
}

export type SigningKeyCommand =
  | ({
      readonly type: 'RotateSigningKey';
      readonly use: KeyUse;
      /** The new key, generated (and its private half sealed) by the shell. */
      readonly kid: string;
      readonly alg: string;
      readonly publicJwk: string;
      readonly sealedPrivateKey: string;
      /** At start: rotate only when the use has no active key yet. */
      readonly onlyIfNone: boolean;
    } & ChangeBy)
  | ({ readonly type: 'RetireSigningKey'; readonly kid: string } & ChangeBy);

export const KEY_USES: Readonly<Record<string, KeyUse>> = {
  agent_token: KeyUse.AGENT_TOKEN,
  decision_token: KeyUse.DECISION_TOKEN,
};

export const keyUseName = (use: KeyUse): string =>
  Object.keys(KEY_USES).find((name) => KEY_USES[name] === use) ?? 'unspecified';

const changeOf = (c: ChangeBy): Change => create(ChangeSchema, { by: c.by, reason: c.reason, atMs: c.now });

/**
 * Signing keys: rotated in by platform admins (and once at first start), retired when no longer
 * trusted. They sign every tenant's tokens, so a tenant's admin may not change them.
 */
export const signingKeys: Decider<SigningKeyCommand, SigningKeysState, SigningKeyEvent> = {
  initialState: { keys: new Map(), active: new Map() },

  decide(command, state) {
    requireRole(command, 'registry.keys.write');
    switch (command.type) {
      case 'RotateSigningKey': {
        if (keyUseName(command.use) === 'unspecified')
          throw invalid('invalid_key_use', `use must be one of ${Object.keys(KEY_USES).join(', ')}`, 'use');
        if (command.onlyIfNone && state.active.has(command.use)) return [];
        if (!isId(command.kid)) throw invalid('invalid_kid', 'kid must be 1-128 letters, digits or ._:@-', 'kid');
        if (state.keys.has(command.kid)) throw conflict('kid_taken', `key ${command.kid} exists`, 'kid');
        if (command.alg !== 'EdDSA') throw invalid('invalid_alg', 'keys are Ed25519 (alg EdDSA)', 'alg');
        return [
          create(SigningKeyRotatedSchema, {
            kid: command.kid,
            use: command.use,
            alg: command.alg,
            publicJwk: command.publicJwk,
            sealedPrivateKey: command.sealedPrivateKey,
            activatedAtMs: command.now,
            change: changeOf(command),
          }),
        ];
      }
      case 'RetireSigningKey': {
        if (command.reason.trim() === '') throw invalid('reason_required', 'a reason is required', 'reason');
        const key = state.keys.get(command.kid);
        if (!key || key.retired) throw notFound('key_not_found', `no live key ${command.kid}`);
        if (state.active.get(key.use) === key.kid)
          throw conflict('key_active', `key ${key.kid} is the active ${keyUseName(key.use)} key; rotate first`);
        return [create(SigningKeyRetiredSchema, { kid: key.kid, use: key.use, change: changeOf(command) })];
      }
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    if (event.$typeName === 'warden.registry.v1.SigningKeyRotated') {
      if (state.keys.has(event.kid)) return state;
      const keys = new Map(state.keys);
      keys.set(event.kid, {
        kid: event.kid,
        use: event.use,
        alg: event.alg,
        publicJwk: event.publicJwk,
        sealedPrivateKey: event.sealedPrivateKey,
        activatedAtMs: event.activatedAtMs,
        retired: false,
        change: event.change ?? create(ChangeSchema),
      });
      const active = new Map(state.active);
      active.set(event.use, event.kid);
      return { keys, active };
    }
    if (event.$typeName === 'warden.registry.v1.SigningKeyRetired') {
      const key = state.keys.get(event.kid);
      if (!key || key.retired) return state;
      const keys = new Map(state.keys);
      keys.set(event.kid, { ...key, retired: true });
      const active = new Map(state.active);
      if (active.get(key.use) === key.kid) active.delete(key.use);
      return { keys, active };
    }
    return state;
  },
};

/** The live keys (not retired), for the JWKS. */
export const liveKeys = (state: SigningKeysState): SigningKey[] => [...state.keys.values()].filter((k) => !k.retired);
