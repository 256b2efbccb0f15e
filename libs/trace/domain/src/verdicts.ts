import { Verdict } from '@warden/contracts';

/** A verdict as trace stores and serves it: the enum name in snake case (`allow`, `pending_approval`). */
export function verdictName(verdict: Verdict): string {
  const name = Verdict[verdict] as string | undefined;
  return name ? name.toLowerCase() : `unknown_${verdict}`;
}

export const PENDING_APPROVAL = verdictName(Verdict.PENDING_APPROVAL);

/** Every verdict a client may filter by. */
export const VERDICT_NAMES: readonly string[] = Object.values(Verdict)
  .filter((v): v is Verdict => typeof v === 'number' && v !== Verdict.UNSPECIFIED)
  .map(verdictName);

/**
 * Which decision a request keeps when several arrive: the first one, replaced only when it is
 * `pending_approval` and the next one is final. A re-emitted duplicate changes nothing, and so
 * does a second pending decision, so the kept decision depends only on the order of the
 * decisions topic (one partition per run), never on how other topics interleave.
 */
export function supersedes(recorded: string | null | undefined, next: string): boolean {
  if (recorded === null || recorded === undefined) return true;
  return recorded === PENDING_APPROVAL && next !== PENDING_APPROVAL;
}
