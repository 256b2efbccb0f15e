import { createHash } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import { AuditRecorded, AuditRecordedSchema, create, GateDecided, GateDecidedSchema } from '@warden/contracts';
import { assertNever, Decider } from '@warden/kernel';
import { verdictName } from '../verdicts';

/**
 * The tenant audit chain (docs/adr/0061): every gate decision of a tenant becomes one
 * AuditRecorded, numbered without gaps, carrying the previous record's hash and its own hash
 * over a canonical encoding. One writer per tenant (trace.audit.queue is keyed by tenant id)
 * gives the total order.
 */
export type ChainDecision = {
  readonly type: 'ChainDecision';
  readonly tenantId: string;
  readonly decision: GateDecided;
  /** Where the decision was on gate.decisions. */
  readonly sourcePartition: number;
  readonly sourceOffset: number;
};

/** Per tenant: the head of the chain and, per gate.decisions partition, the last offset chained. */
export interface ChainState {
  readonly seq: number;
  readonly hash: string;
  readonly chained: Readonly<Record<number, number>>;
}

/** The fields of a record the hash covers, in their canonical order. */
export type ChainLink = Omit<AuditRecorded, '$typeName' | '$unknown' | 'policies'> & {
  readonly policies: readonly { readonly policyId: string; readonly version: string; readonly result: string }[];
};

/** SHA-256 (hex) of a decision's protobuf encoding. */
export function decisionDigest(decision: GateDecided): string {
  return sha256(Buffer.from(toBinary(GateDecidedSchema, decision)));
}

/**
 * The canonical encoding the hash covers: a JSON array of every field but `hash`, in a fixed
 * order, so it does not depend on key order, protobuf field presence or the store it came from.
 */
export function canonical(link: ChainLink): string {
  return JSON.stringify([
    'warden.trace.v1.AuditRecorded',
    link.tenantId,
    link.seq,
    link.decisionId,
    link.requestId,
    link.runId,
    link.agentId,
    link.verdict,
    link.reason,
    link.decidedAtMs,
    link.policyBundleVersion,
    link.policies.map((p) => [p.policyId, p.version, p.result]),
    link.decisionSha256,
    link.source,
    link.prevHash,
  ]);
}

export function linkHash(link: ChainLink): string {
  return sha256(Buffer.from(canonical(link), 'utf8'));
}

export const auditChain: Decider<ChainDecision, ChainState, AuditRecorded> = {
  initialState: { seq: 0, hash: '', chained: {} },

  decide(cmd, state) {
    switch (cmd.type) {
      case 'ChainDecision': {
        // The forwarder is at least once: a decision already chained from its partition is skipped.
        if (cmd.sourceOffset <= (state.chained[cmd.sourcePartition] ?? -1)) return [];
        const d = cmd.decision;
        const link: ChainLink = {
          tenantId: clean(cmd.tenantId),
          seq: state.seq + 1,
          decisionId: clean(d.decisionId),
          requestId: clean(d.requestId),
          runId: clean(d.runId),
          agentId: clean(d.agentId),
          verdict: verdictName(d.verdict),
          reason: clean(d.reason),
          decidedAtMs: Number.isFinite(d.decidedAtMs) ? d.decidedAtMs : 0,
          policyBundleVersion: clean(d.context?.versions?.policyBundleVersion ?? ''),
          policies: (d.context?.evaluations ?? []).map((e) => ({
            policyId: clean(e.policyId),
            version: clean(e.version),
            result: clean(e.result),
          })),
          decisionSha256: decisionDigest(d),
          source: `gate.decisions:${cmd.sourcePartition}:${cmd.sourceOffset}`,
          prevHash: state.hash,
          hash: '',
        };
        return [create(AuditRecordedSchema, { ...link, policies: [...link.policies], hash: linkHash(link) })];
      }
      default:
        return assertNever(cmd.type, 'command');
    }
  },

  evolve(state, event) {
    if (event.seq !== state.seq + 1) return state;
    const [, partition, offset] = /:(\d+):(\d+)$/.exec(event.source) ?? [];
    const chained = partition === undefined ? state.chained : { ...state.chained, [Number(partition)]: Number(offset) };
    return { seq: event.seq, hash: event.hash, chained };
  },
};

/** Text as every store keeps it: NUL (which Postgres refuses) as U+FFFD, so a stored copy still verifies. */
function clean(text: string): string {
  return text.replace(/\u0000/g, '\ufffd');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
