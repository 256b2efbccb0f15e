import { ApprovalTaskOpened } from '@warden/contracts';
import { normalIdentity } from '@warden/kernel';

/** How identities are compared (NFKC, lower case, trimmed): see @warden/kernel. */
export { normalIdentity };

/** Why an identity may not approve a task. */
export type ExclusionReason = 'requester' | 'owner_contact' | 'registrant';

const REASON_TEXT: Record<ExclusionReason, string> = {
  requester: 'the requester the agent acts for (on_behalf_of)',
  owner_contact: "the agent's owner contact",
  registrant: 'who registered the agent',
};

/** The identities a voter is known by: the token's subject, and its e-mail claim if it has one. */
export interface VoterIdentity {
  readonly voter: string;
  readonly voterEmail: string;
}

/** Both names of a voter, normalised; an empty e-mail claim names nobody. */
export const namesOf = (v: VoterIdentity): string[] =>
  [normalIdentity(v.voter), normalIdentity(v.voterEmail)].filter((n) => n !== '');

/**
 * A tenant's registered identity links (registry IdentityLinked, docs/adr/0116 amendment): each
 * entry one subject and the other identities of the same person (e-mails, other subjects).
 * Links are symmetric and transitive: every identity reachable through them is the same person.
 */
export type IdentityLinks = readonly (readonly string[])[];

/** No links: identities match only as spelt (normalised). */
export const NO_LINKS: IdentityLinks = [];

/** The normalised identities linked to `name` (itself included), through any chain of links. */
export function linkedTo(name: string, links: IdentityLinks): ReadonlySet<string> {
  const person = new Set([normalIdentity(name)].filter((n) => n !== ''));
  if (person.size === 0) return person;
  const groups = links.map((g) => g.map(normalIdentity).filter((n) => n !== ''));
  for (let grew = true; grew;) {
    grew = false;
    for (const group of groups) {
      if (!group.some((n) => person.has(n)) || group.every((n) => person.has(n))) continue;
      for (const n of group) person.add(n);
      grew = true;
    }
  }
  return person;
}

/** Every name of a voter: its subject and e-mail claim, and all identities linked to them. */
export const personOf = (v: VoterIdentity, links: IdentityLinks = NO_LINKS): ReadonlySet<string> =>
  new Set(namesOf(v).flatMap((n) => [...linkedTo(n, links)]));

/** Whether two voters are the same person: any of their names equal, directly or through links. */
export const samePerson = (a: VoterIdentity, b: VoterIdentity, links: IdentityLinks = NO_LINKS): boolean => {
  const names = personOf(a, links);
  return namesOf(b).some((n) => names.has(n));
};

/**
 * The exclusions of a task that a voter matches, with the words that explain each one: by the
 * token's subject or e-mail claim, or through a registered identity link of either. A task
 * opened before exclusions were recorded has only `excluded_approvers`: those count too.
 */
export function exclusionsMatching(
  opened: ApprovalTaskOpened,
  voter: VoterIdentity,
  links: IdentityLinks = NO_LINKS,
): { readonly identity: string; readonly reason: string; readonly explanation: string }[] {
  const recorded: readonly { identity: string; reason: string }[] =
    opened.exclusions.length > 0
      ? opened.exclusions
      : opened.excludedApprovers.map((identity) => ({ identity, reason: 'requester or owner' }));
  const subject = normalIdentity(voter.voter);
  const email = normalIdentity(voter.voterEmail);
  const viaSubject = linkedTo(voter.voter, links);
  const viaEmail = email === '' ? new Set<string>() : linkedTo(voter.voterEmail, links);
  return recorded.flatMap((e) => {
    const identity = normalIdentity(e.identity);
    if (identity === '') return [];
    const why = REASON_TEXT[e.reason as ExclusionReason] ?? `the agent's ${e.reason}`;
    const explain = (text: string) => [{ identity: e.identity, reason: e.reason, explanation: text }];
    if (identity === subject) return explain(`the token's subject ${voter.voter} is ${why} (${e.identity})`);
    if (identity === email) return explain(`the token's e-mail ${voter.voterEmail} is ${why} (${e.identity})`);
    if (viaSubject.has(identity))
      return explain(`the token's subject ${voter.voter} is linked to ${e.identity}, ${why}`);
    if (viaEmail.has(identity))
      return explain(`the token's e-mail ${voter.voterEmail} is linked to ${e.identity}, ${why}`);
    return [];
  });
}
