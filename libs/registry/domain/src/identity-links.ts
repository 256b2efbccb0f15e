import {
  Change,
  ChangeSchema,
  create,
  IdentityLinked,
  IdentityLinkedSchema,
  IdentityUnlinked,
  IdentityUnlinkedSchema,
} from '@warden/contracts';
import { assertNever, Decider, invalid, normalIdentity, notFound, requireRole } from '@warden/kernel';

/** A tenant's identity links are one stream of registry.events. */
export const identityLinksStream = (tenantId: string): string => `identity-links:${tenantId}`;

export type IdentityLinkEvent = IdentityLinked | IdentityUnlinked;

/** One subject and the other identities (e-mails, subjects) of the same person. */
export interface IdentityLink {
  readonly subject: string;
  readonly aliases: readonly string[];
  readonly change: Change;
}

export interface IdentityLinksState {
  readonly tenantId: string;
  /** By the subject's normal form (docs/adr/0116). */
  readonly links: ReadonlyMap<string, IdentityLink>;
}

interface ChangeBy {
  readonly tenantId: string;
  readonly by: string;
  readonly roles: readonly string[];
  readonly reason: string;
  readonly now: number;
}

export type IdentityLinkCommand =
  | ({ readonly type: 'LinkIdentities'; readonly subject: string; readonly aliases: readonly string[] } & ChangeBy)
  | ({ readonly type: 'UnlinkIdentities'; readonly subject: string } & ChangeBy);

/** At most this many aliases per subject, each at most MAX_IDENTITY long. */
export const MAX_ALIASES = 20;
export const MAX_IDENTITY = 320;

const changeOf = (c: ChangeBy): Change => create(ChangeSchema, { by: c.by, reason: c.reason, atMs: c.now });

function identityOf(value: string, field: string): string {
  const normal = normalIdentity(value);
  if (normal === '') throw invalid('invalid_identity', `${field} must name an identity`, field);
  if (value.length > MAX_IDENTITY || /[\p{Cc}]/u.test(value))
    throw invalid('invalid_identity', `${field} must be at most ${MAX_IDENTITY} printable characters`, field);
  return normal;
}

/**
 * Identity links of a tenant (docs/adr/0116, amendment): a tenant admin declares that a subject and
 * its aliases are one person, so separation of duties refuses a vote by any of them where it
 * refuses one. A link only ever refuses votes, never grants anything; it still needs a reason.
 */
export const identityLinks: Decider<IdentityLinkCommand, IdentityLinksState, IdentityLinkEvent> = {
  initialState: { tenantId: '', links: new Map() },

  decide(command, state) {
    requireRole(command, 'registry.identities.write');
    if (command.reason.trim() === '') throw invalid('reason_required', 'a reason is required', 'reason');
    const subject = identityOf(command.subject, 'subject');
    switch (command.type) {
      case 'LinkIdentities': {
        if (command.aliases.length === 0)
          throw invalid('aliases_required', 'aliases must name at least one other identity', 'aliases');
        if (command.aliases.length > MAX_ALIASES)
          throw invalid('too_many_aliases', `at most ${MAX_ALIASES} aliases per subject`, 'aliases');
        const seen = new Set([subject]);
        const aliases: string[] = [];
        command.aliases.forEach((alias, i) => {
          const normal = identityOf(alias, `aliases[${i}]`);
          if (normal === subject)
            throw invalid('alias_is_subject', `aliases[${i}] is the subject itself`, `aliases[${i}]`);
          if (seen.has(normal)) return;
          seen.add(normal);
          aliases.push(alias.trim());
        });
        const current = state.links.get(subject);
        const same =
          current !== undefined &&
          current.aliases.length === aliases.length &&
          current.aliases.every((a, i) => normalIdentity(a) === normalIdentity(aliases[i]));
        if (same) return [];
        return [
          create(IdentityLinkedSchema, {
            tenantId: command.tenantId,
            subject: command.subject.trim(),
            aliases,
            change: changeOf(command),
          }),
        ];
      }
      case 'UnlinkIdentities': {
        const current = state.links.get(subject);
        if (!current) throw notFound('link_not_found', `no identity link for subject ${command.subject}`);
        return [
          create(IdentityUnlinkedSchema, {
            tenantId: command.tenantId,
            subject: current.subject,
            change: changeOf(command),
          }),
        ];
      }
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    if (event.$typeName === 'warden.registry.v1.IdentityLinked') {
      const links = new Map(state.links).set(normalIdentity(event.subject), {
        subject: event.subject,
        aliases: [...event.aliases],
        change: event.change ?? create(ChangeSchema),
      });
      return { tenantId: event.tenantId, links };
    }
    if (event.$typeName === 'warden.registry.v1.IdentityUnlinked') {
      const links = new Map(state.links);
      if (!links.delete(normalIdentity(event.subject))) return state;
      return { tenantId: event.tenantId, links };
    }
    return state;
  },
};
