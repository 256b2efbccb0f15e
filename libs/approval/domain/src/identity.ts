import { ApprovalTaskOpened } from '@warden/contracts';

/**
 * An identity as separation of duties compares it (docs/adr/0116): Unicode NFKC, lower case,
 * trimmed, so `OLGA`, ` olga ` and `ｏｌｇａ` are all `olga`. Identity providers differ in how they
 * spell a person; a comparison that treats two spellings as two people lets one person approve
 * their own action, while one that treats them as one only ever refuses a vote.
 */
export function normalIdentity(identity: string): string {
  return identity.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
}

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

/** Whether two voters are the same person: any of their normalised names equal. */
export const samePerson = (a: VoterIdentity, b: VoterIdentity): boolean => {
  const names = namesOf(a);
  return namesOf(b).some((n) => names.includes(n));
};

/**
 * The exclusions of a task that a voter matches, with the words that explain each one. A task
 * opened before exclusions were recorded has only `excluded_approvers`: those count too.
 */
export function exclusionsMatching(
  opened: ApprovalTaskOpened,
  voter: VoterIdentity,
): { readonly identity: string; readonly reason: string; readonly explanation: string }[] {
  const recorded: readonly { identity: string; reason: string }[] =
    opened.exclusions.length > 0
      ? opened.exclusions
      : opened.excludedApprovers.map((identity) => ({ identity, reason: 'requester or owner' }));
  const subject = normalIdentity(voter.voter);
  const email = normalIdentity(voter.voterEmail);
  return recorded.flatMap((e) => {
    const identity = normalIdentity(e.identity);
    if (identity === '') return [];
    const by =
      identity === subject
        ? `the token's subject ${voter.voter}`
        : identity === email
          ? `the token's e-mail ${voter.voterEmail}`
          : undefined;
    if (by === undefined) return [];
    const why = REASON_TEXT[e.reason as ExclusionReason] ?? `the agent's ${e.reason}`;
    return [{ identity: e.identity, reason: e.reason, explanation: `${by} is ${why} (${e.identity})` }];
  });
}
