import { ChangeSchema, create, IdentityLinkedSchema, IdentityUnlinkedSchema } from '@warden/contracts';
import { fold, given } from '@warden/kernel';
import { IdentityLinkCommand, identityLinks } from './identity-links';

const now = 1_700_000_000_000;
const who = { tenantId: 'acme', by: 'ada', roles: ['admin'], reason: 'IdP has no e-mail claim', now };
const change = create(ChangeSchema, { by: 'ada', reason: who.reason, atMs: now });
const link = (subject: string, aliases: string[], over: Partial<typeof who> = {}): IdentityLinkCommand => ({
  type: 'LinkIdentities',
  subject,
  aliases,
  ...who,
  ...over,
});
const unlink = (subject: string, over: Partial<typeof who> = {}): IdentityLinkCommand => ({
  type: 'UnlinkIdentities',
  subject,
  ...who,
  ...over,
});
const linked = (subject: string, aliases: string[]) =>
  create(IdentityLinkedSchema, { tenantId: 'acme', subject, aliases, change });

describe('identity links decider (stream = identity-links:<tenant>)', () => {
  it('links a subject to its aliases, trimmed and once each as compared', () => {
    given(identityLinks)
      .when(link(' u-123 ', ['olga@example.com', 'OLGA@Example.com', 'olga-admin']))
      .then([linked('u-123', ['olga@example.com', 'olga-admin'])]);
  });

  it('the same set again changes nothing; another set replaces it; unlink removes it', () => {
    given(identityLinks, [linked('u-123', ['olga@example.com'])])
      .when(link('U-123', ['Olga@Example.com']))
      .then([]);
    given(identityLinks, [linked('u-123', ['olga@example.com'])])
      .when(link('u-123', ['olga@example.com', 'u-456']))
      .then([linked('u-123', ['olga@example.com', 'u-456'])]);
    given(identityLinks, [linked('u-123', ['olga@example.com'])])
      .when(unlink('U-123'))
      .then([create(IdentityUnlinkedSchema, { tenantId: 'acme', subject: 'u-123', change })]);
    const state = fold(identityLinks.evolve, identityLinks.initialState, [
      linked('u-123', ['olga@example.com']),
      create(IdentityUnlinkedSchema, { tenantId: 'acme', subject: 'U-123', change }),
    ]);
    expect(state.links.size).toBe(0);
  });

  it('refuses what names no one, the subject as its own alias, no reason, a missing link and non-admins', () => {
    const field = (c: IdentityLinkCommand, history = [linked('u-1', ['a@x.io'])]) =>
      given(identityLinks, history).when(c).thenThrows('invalid').field;
    expect(field(link('  ', ['a@x.io']))).toBe('subject');
    expect(field(link('u-1', []))).toBe('aliases');
    expect(field(link('u-1', ['b@x.io', ' ']))).toBe('aliases[1]');
    expect(field(link('u-1', ['U-1']))).toBe('aliases[0]');
    expect(field(link('u-1', ['a@x.io'], { reason: ' ' }))).toBe('reason');
    expect(field(link('u-1', ['x\u0000y']))).toBe('aliases[0]');
    given(identityLinks).when(unlink('u-1')).thenThrows('not_found', 'link_not_found');
    for (const roles of [['approver'], ['owner'], ['auditor']])
      given(identityLinks)
        .when(link('u-1', ['a@x.io'], { roles }))
        .thenThrows('forbidden', 'role_required');
  });
});
