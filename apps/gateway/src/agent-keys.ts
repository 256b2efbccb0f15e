import {
  AgentCredentialRevokedSchema,
  evolvePublicKeys,
  is,
  PublicKeys,
  SigningKeyRetiredSchema,
  SigningKeyRotatedSchema,
  Topic,
} from '@warden/contracts';
import { TableDefinition } from '@warden/platform';

/**
 * What the gateway needs of registry.events to verify agent tokens offline, as the policy service
 * does (ADR 0009): the live public signing keys and the revoked credentials. Folded from the topic
 * at every start, so a restart loses nothing.
 */
export interface AgentKeys {
  readonly publicKeys: PublicKeys;
  readonly revokedCredentials: ReadonlySet<string>;
}

export const agentKeysTable: TableDefinition<AgentKeys> = {
  name: 'gateway-agent-keys',
  topics: [Topic.registryEvents],
  initial: () => ({ publicKeys: new Map(), revokedCredentials: new Set() }),
  evolve(state, event) {
    if (is(event, SigningKeyRotatedSchema) || is(event, SigningKeyRetiredSchema)) {
      return { ...state, publicKeys: evolvePublicKeys(state.publicKeys, event.data) };
    }
    if (is(event, AgentCredentialRevokedSchema)) {
      if (state.revokedCredentials.has(event.data.credentialId)) return state;
      return { ...state, revokedCredentials: new Set(state.revokedCredentials).add(event.data.credentialId) };
    }
    return state;
  },
};
