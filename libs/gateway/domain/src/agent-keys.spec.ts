import {
  AgentCredentialRevokedSchema,
  AgentRegisteredSchema,
  create,
  Envelope,
  KeyUse,
  Message,
  SigningKeyRetiredSchema,
  SigningKeyRotatedSchema,
} from '@warden/contracts';
import { AgentKeys, emptyAgentKeys, evolveAgentKeys } from './agent-keys';

const envelope = (data: Message): Envelope => ({
  id: `${data.$typeName}-1`,
  type: data.$typeName,
  source: 'test',
  time: 0,
  key: '',
  tenantId: 'acme',
  agentId: '',
  runId: '',
  data,
});
const fold = (...events: Message[]): AgentKeys => events.map(envelope).reduce(evolveAgentKeys, emptyAgentKeys());
const rotated = (kid: string) =>
  create(SigningKeyRotatedSchema, {
    kid,
    use: KeyUse.AGENT_TOKEN,
    publicJwk: `{"kid":"${kid}"}`,
    sealedPrivateKey: 'x',
  });

describe('agent keys (registry.events, for verifying agent tokens offline)', () => {
  it('starts with no keys and no revoked credentials', () => {
    expect(emptyAgentKeys()).toEqual({ publicKeys: new Map(), revokedCredentials: new Set() });
  });

  it('given rotated keys, knows their public keys (never the sealed private key)', () => {
    const keys = fold(rotated('k1'), rotated('k2'));
    expect([...keys.publicKeys.keys()]).toEqual(['k1', 'k2']);
    expect(keys.publicKeys.get('k1')).toEqual({ kid: 'k1', use: KeyUse.AGENT_TOKEN, publicJwk: '{"kid":"k1"}' });
  });

  it('given a retired key, forgets it', () => {
    const keys = fold(rotated('k1'), rotated('k2'), create(SigningKeyRetiredSchema, { kid: 'k1' }));
    expect([...keys.publicKeys.keys()]).toEqual(['k2']);
  });

  it('given revoked credentials, remembers each once', () => {
    const revoked = (credentialId: string) => create(AgentCredentialRevokedSchema, { agentId: 'bot', credentialId });
    expect([...fold(revoked('c1'), revoked('c2'), revoked('c1')).revokedCredentials]).toEqual(['c1', 'c2']);
  });

  it('ignores every other event, keeping the same state', () => {
    const before = fold(rotated('k1'));
    const after = evolveAgentKeys(before, envelope(create(AgentRegisteredSchema, { agentId: 'bot' })));
    expect(after).toBe(before);
    const again = create(AgentCredentialRevokedSchema, { credentialId: 'c1' });
    const once = fold(again);
    expect(evolveAgentKeys(once, envelope(again))).toBe(once);
  });
});
