import {
  AgentCredentialRevokedSchema,
  Envelope,
  evolvePublicKeys,
  is,
  PublicKeys,
  SigningKeyRetiredSchema,
  SigningKeyRotatedSchema,
} from '@warden/contracts';

/**
 * What the gateway needs of registry.events to verify agent tokens offline, as the policy service
 * does (ADR 0009): the live public signing keys and the revoked credentials. Folded from the topic
 * at every start, so a restart loses nothing.
 */
export interface AgentKeys {
  readonly publicKeys: PublicKeys;
  readonly revokedCredentials: ReadonlySet<string>;
}

export const emptyAgentKeys = (): AgentKeys => ({ publicKeys: new Map(), revokedCredentials: new Set() });

/** Folds one registry event: signing keys rotated in or retired, credentials revoked; the same state otherwise. */
export function evolveAgentKeys(state: AgentKeys, event: Envelope): AgentKeys {
  if (is(event, SigningKeyRotatedSchema) || is(event, SigningKeyRetiredSchema)) {
    return { ...state, publicKeys: evolvePublicKeys(state.publicKeys, event.data) };
  }
  if (is(event, AgentCredentialRevokedSchema)) {
    if (state.revokedCredentials.has(event.data.credentialId)) return state;
    return { ...state, revokedCredentials: new Set(state.revokedCredentials).add(event.data.credentialId) };
  }
  return state;
}
