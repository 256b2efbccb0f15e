import {
  AgentCredentialRegisteredSchema,
  AgentCredentialRevokedSchema,
  ChangeSchema,
  create,
  CredentialKind,
  DelegationGrantedSchema,
  DelegationRevokedSchema,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { AgentHeadView, agentAuthority, AuthorityCommand, credentialUsable } from './agent-authority';

const now = 1_700_000_000_000;
const hour = 3_600_000;
const bot: AgentHeadView = { agentId: 'bot', tenantId: 'acme', status: 'active' };
const who = (by: string, roles: string[], reason = 'because') => ({ by, roles, reason, now });
const base = { agentId: 'bot', callerTenant: 'acme', agent: bot, ...who('olga', ['owner']) };
type Of<T extends AuthorityCommand['type']> = Extract<AuthorityCommand, { type: T }>;

const register = (over: Partial<Of<'RegisterCredential'>> = {}): AuthorityCommand => ({
  type: 'RegisterCredential',
  credentialId: 'c1',
  kind: CredentialKind.CLIENT_SECRET,
  publicJwk: '',
  secretHash: 'scrypt$salt$hash',
  expiresAtMs: 0,
  ...base,
  ...over,
});
const grant = (over: Partial<Of<'GrantDelegation'>> = {}): AuthorityCommand => ({
  type: 'GrantDelegation',
  grantId: 'g1',
  subject: 'olga',
  scopes: ['tickets:read'],
  expiresAtMs: now + hour,
  maxLifetimeMs: 24 * hour,
  ...base,
  ...over,
});
const revokeCredential = (over: Partial<Of<'RevokeCredential'>> = {}): AuthorityCommand => ({
  type: 'RevokeCredential',
  credentialId: 'c1',
  ...base,
  ...over,
});
const revokeGrant = (over: Partial<Of<'RevokeDelegation'>> = {}): AuthorityCommand => ({
  type: 'RevokeDelegation',
  grantId: 'g1',
  ...base,
  ...over,
});

const change = (by = 'olga') => create(ChangeSchema, { by, reason: 'because', atMs: now });
const credentialRegistered = create(AgentCredentialRegisteredSchema, {
  agentId: 'bot',
  tenantId: 'acme',
  credentialId: 'c1',
  kind: CredentialKind.CLIENT_SECRET,
  secretHash: 'scrypt$salt$hash',
  change: change(),
});
const credentialRevoked = create(AgentCredentialRevokedSchema, {
  agentId: 'bot',
  tenantId: 'acme',
  credentialId: 'c1',
  change: change(),
});
const granted = create(DelegationGrantedSchema, {
  grantId: 'g1',
  tenantId: 'acme',
  agentId: 'bot',
  subject: 'olga',
  scopes: ['tickets:read'],
  expiresAtMs: now + hour,
  change: change(),
});
const grantRevoked = create(DelegationRevokedSchema, {
  grantId: 'g1',
  tenantId: 'acme',
  agentId: 'bot',
  subject: 'olga',
  change: change(),
});

describe('agent authority decider: credentials', () => {
  it('registers a client-secret credential (hash only) and a public-key credential (JWK only)', () => {
    given(agentAuthority).when(register()).then([credentialRegistered]);
    const [event] = given(agentAuthority)
      .when(register({ kind: CredentialKind.PUBLIC_KEY, publicJwk: '{"kty":"OKP"}', secretHash: 'ignored' }))
      .thenEvents();
    expect(event).toMatchObject({ publicJwk: '{"kty":"OKP"}', secretHash: '' });
  });

  it('refuses an unknown agent, another tenant’s agent, a retired agent', () => {
    given(agentAuthority)
      .when(register({ agent: undefined }))
      .thenThrows('not_found', 'agent_not_found');
    given(agentAuthority)
      .when(register({ callerTenant: 'globex' }))
      .thenThrows('not_found', 'agent_not_found');
    given(agentAuthority)
      .when(register({ agent: { ...bot, status: 'retired' } }))
      .thenThrows('conflict', 'agent_retired');
  });

  it('refuses bad input, naming the field, and roles other than admin or owner', () => {
    const field = (cmd: AuthorityCommand) => given(agentAuthority).when(cmd).thenThrows('invalid').field;
    expect(field(register({ kind: CredentialKind.PUBLIC_KEY }))).toBe('publicJwk');
    expect(field(register({ kind: CredentialKind.UNSPECIFIED }))).toBe('kind');
    expect(field(register({ credentialId: 'a b' }))).toBe('credentialId');
    expect(field(register({ expiresAtMs: now - 1 }))).toBe('expiresAtMs');
    given(agentAuthority, [credentialRegistered]).when(register()).thenThrows('conflict', 'credential_exists');
    given(agentAuthority)
      .when(register(who('sam', ['sre'])))
      .thenThrows('forbidden', 'role_required');
  });

  it('revokes a credential at once; revoking again changes nothing', () => {
    given(agentAuthority, [credentialRegistered]).when(revokeCredential()).then([credentialRevoked]);
    given(agentAuthority, [credentialRegistered, credentialRevoked]).when(revokeCredential()).then([]);
    given(agentAuthority).when(revokeCredential()).thenThrows('not_found', 'credential_not_found');
    given(agentAuthority, [credentialRegistered])
      .when(revokeCredential({ callerTenant: 'globex' }))
      .thenThrows('not_found', 'agent_not_found');
    const state = given(agentAuthority, [credentialRegistered, credentialRevoked]).state!;
    expect(credentialUsable(state.credentials.get('c1')!, now)).toBe(false);
  });

  it('knows when a credential has expired', () => {
    const credential = { ...given(agentAuthority, [credentialRegistered]).state!.credentials.get('c1')! };
    expect(credentialUsable(credential, now)).toBe(true);
    expect(credentialUsable({ ...credential, expiresAtMs: now }, now)).toBe(false);
  });
});

describe('agent authority decider: delegation grants', () => {
  it('grants the caller’s own authority for scopes until an expiry', () => {
    given(agentAuthority).when(grant()).then([granted]);
    given(agentAuthority)
      .when(grant({ ...who('ann', ['approver']), subject: 'ann' }))
      .thenEvents();
  });

  it('lets only admins and owners grant on behalf of someone else', () => {
    given(agentAuthority)
      .when(grant({ ...who('ann', ['approver']), subject: 'bob' }))
      .thenThrows('forbidden', 'not_your_authority');
    given(agentAuthority)
      .when(grant({ ...who('alice', ['admin']), subject: 'bob' }))
      .thenEvents();
  });

  it.each<[Partial<Of<'GrantDelegation'>>, string, string]>([
    [{ scopes: [] }, 'scopes_required', 'scopes'],
    [{ scopes: ['tickets:read', 'close'] }, 'invalid_scope', 'scopes[1]'],
    [{ scopes: ['a b:read'] }, 'invalid_scope', 'scopes[0]'],
    [{ expiresAtMs: now }, 'expiry_in_past', 'expiresAtMs'],
    [{ expiresAtMs: now + 25 * hour }, 'grant_too_long', 'expiresAtMs'],
    [{ subject: '' }, 'subject_required', 'subject'],
    [{ grantId: '' }, 'invalid_grant_id', 'grantId'],
  ])('refuses %j', (over, code, field) => {
    expect(given(agentAuthority).when(grant(over)).thenThrows('invalid', code).field).toBe(field);
  });

  it('accepts wildcard scopes and refuses a grant to a retired or unknown agent', () => {
    given(agentAuthority)
      .when(grant({ scopes: ['*:read', 'tickets:*'] }))
      .thenEvents();
    given(agentAuthority)
      .when(grant({ agent: { ...bot, status: 'retired' } }))
      .thenThrows('conflict', 'agent_retired');
    given(agentAuthority)
      .when(grant({ agent: undefined }))
      .thenThrows('not_found');
    given(agentAuthority, [granted]).when(grant()).thenThrows('conflict', 'grant_exists');
  });

  it('revokes at once, by the subject or an admin or owner; again changes nothing', () => {
    given(agentAuthority, [granted]).when(revokeGrant()).then([grantRevoked]);
    given(agentAuthority, [granted])
      .when(revokeGrant(who('alice', ['admin'])))
      .thenEvents();
    given(agentAuthority, [granted])
      .when(revokeGrant(who('ann', ['approver'])))
      .thenThrows('forbidden', 'not_your_authority');
    given(agentAuthority, [granted, grantRevoked]).when(revokeGrant()).then([]);
    given(agentAuthority).when(revokeGrant()).thenThrows('not_found', 'grant_not_found');
    expect(given(agentAuthority, [granted, grantRevoked]).state!.grants.get('g1')!.revoked).toBe(true);
  });
});
