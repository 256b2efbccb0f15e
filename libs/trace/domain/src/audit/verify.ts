import { canonical, ChainLink, linkHash } from './chain';

export type ChainProblemKind = 'altered' | 'missing' | 'reordered' | 'diverged';

/** Where a chain stops being trustworthy, and why. */
export interface ChainProblem {
  readonly kind: ChainProblemKind;
  /** The sequence number at which the problem shows (for `missing`, the first one missing). */
  readonly seq: number;
  /** The decision id of the record at fault, when there is one. */
  readonly decisionId: string | null;
  readonly detail: string;
}

export interface ChainReport {
  readonly tenantId: string;
  readonly ok: boolean;
  readonly records: number;
  /** The last record verified: anchor it elsewhere to detect a rewrite of the whole chain. */
  readonly head: { readonly seq: number; readonly hash: string } | null;
  /** The first problem found, walking from seq 1; the walk stops there. */
  readonly problem: ChainProblem | null;
}

/**
 * Walks a tenant's chain in the order given (as stored: by seq) and reports the first record
 * that is altered (its hash does not match its content), missing (a gap in seq or a
 * prev_hash that names no record), or reordered (out of sequence, or not linked to the record
 * before it).
 */
export function verifyChain(tenantId: string, links: readonly ChainLink[]): ChainReport {
  let previous: ChainLink | undefined;
  const report = (problem: ChainProblem | null): ChainReport => ({
    tenantId,
    ok: problem === null,
    records: links.length,
    head: previous ? { seq: previous.seq, hash: previous.hash } : null,
    problem,
  });
  const seen = new Set<string>();
  for (const link of links) {
    const expectedSeq = (previous?.seq ?? 0) + 1;
    const at = (kind: ChainProblemKind, detail: string, seq = link.seq) =>
      report({ kind, seq, decisionId: link.decisionId, detail });
    if (link.tenantId !== tenantId) return at('altered', `record belongs to tenant ${link.tenantId}`);
    if (linkHash(link) !== link.hash) return at('altered', `record ${link.seq} does not match its hash`);
    if (link.seq < expectedSeq) {
      return at('reordered', `record ${link.seq} appears after record ${previous?.seq ?? 0}`);
    }
    if (link.seq > expectedSeq) {
      const last = link.seq - 1;
      return report({
        kind: 'missing',
        seq: expectedSeq,
        decisionId: null,
        detail: `record${last > expectedSeq ? `s ${expectedSeq}-${last}` : ` ${expectedSeq}`} missing before ${link.seq}`,
      });
    }
    if (link.prevHash !== (previous?.hash ?? '')) {
      const kind = seen.has(link.prevHash) ? 'reordered' : 'missing';
      return at(kind, `record ${link.seq} does not follow record ${previous?.seq ?? 0} (prev_hash differs)`);
    }
    seen.add(link.hash);
    previous = link;
  }
  return report(null);
}

/**
 * Compares a verified copy of the chain (Postgres) with the source of truth (the trace.audit
 * topic): the first seq where their hashes differ, or a copy shorter than the source.
 */
export function compareChains(
  tenantId: string,
  copy: readonly ChainLink[],
  source: readonly ChainLink[],
): ChainProblem | null {
  const bySeq = new Map(source.map((l) => [l.seq, l]));
  for (const link of copy) {
    const original = bySeq.get(link.seq);
    if (!original) return { kind: 'diverged', seq: link.seq, decisionId: link.decisionId, detail: 'not in Kafka' };
    if (original.hash !== link.hash || canonical(original) !== canonical(link)) {
      return {
        kind: 'diverged',
        seq: link.seq,
        decisionId: link.decisionId,
        detail: `differs from Kafka's record ${link.seq} (decision ${original.decisionId})`,
      };
    }
  }
  const tail = source.filter((l) => l.seq > (copy.at(-1)?.seq ?? 0));
  if (tail.length > 0 && copy.length < source.length) {
    return {
      kind: 'missing',
      seq: tail[0].seq,
      decisionId: tail[0].decisionId,
      detail: `tenant ${tenantId}: ${tail.length} record(s) in Kafka are not in the copy`,
    };
  }
  return null;
}
