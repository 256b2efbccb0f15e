import { AuditRecorded, AuditRecordedSchema, Topic } from '@warden/contracts';
import { ProjectionDefinition } from '@warden/platform';
import { ChainLink } from '@warden/trace-domain';
import { DataSource } from 'typeorm';

/** trace.audit: the tenants' audit chains as recorded on the trace.audit topic, one row per link. */
export interface AuditRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly seq: number;
  readonly decision_id: string;
  readonly request_id: string;
  readonly run_id: string;
  readonly agent_id: string;
  readonly verdict: string;
  readonly reason: string;
  readonly decided_at_ms: number;
  readonly policy_bundle_version: string;
  readonly policies: ChainLink['policies'];
  readonly decision_sha256: string;
  readonly source: string;
  readonly prev_hash: string;
  readonly hash: string;
  readonly [column: string]: unknown;
}

export const auditKey = (tenantId: string, seq: number) => JSON.stringify([tenantId, seq]);

export const auditProjection: ProjectionDefinition<AuditRow> = {
  name: 'audit',
  table: 'trace.audit',
  topics: [Topic.traceAudit],
  handles: [AuditRecordedSchema.typeName],
  rowId: (event) => {
    const r = event.data as AuditRecorded;
    return auditKey(r.tenantId, r.seq);
  },
  // A link is written once: a second record with the same tenant and seq (none is ever
  // published by the single writer) would not replace the first.
  evolve: (row, event) => row ?? auditRow(event.data as AuditRecorded),
};

function auditRow(r: AuditRecorded): AuditRow {
  return {
    id: auditKey(r.tenantId, r.seq),
    tenant_id: r.tenantId,
    seq: r.seq,
    decision_id: r.decisionId,
    request_id: r.requestId,
    run_id: r.runId,
    agent_id: r.agentId,
    verdict: r.verdict,
    reason: r.reason,
    decided_at_ms: r.decidedAtMs,
    policy_bundle_version: r.policyBundleVersion,
    policies: r.policies.map((p) => ({ policyId: p.policyId, version: p.version, result: p.result })),
    decision_sha256: r.decisionSha256,
    source: r.source,
    prev_hash: r.prevHash,
    hash: r.hash,
  };
}

/** A stored row as the link the verifier checks. */
export function linkOf(row: AuditRow): ChainLink {
  return {
    tenantId: row.tenant_id,
    seq: Number(row.seq),
    decisionId: row.decision_id,
    requestId: row.request_id,
    runId: row.run_id,
    agentId: row.agent_id,
    verdict: row.verdict,
    reason: row.reason,
    decidedAtMs: Number(row.decided_at_ms),
    policyBundleVersion: row.policy_bundle_version,
    policies: row.policies,
    decisionSha256: row.decision_sha256,
    source: row.source,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** A recorded link (from Kafka) as the verifier checks it. */
export function linkOfEvent(r: AuditRecorded): ChainLink {
  return linkOf(auditRow(r));
}

/** A tenant's chain as stored, in seq order (a page of it from `fromSeq` when given). */
export async function auditChainRows(
  db: DataSource,
  tenantId: string,
  page?: { readonly fromSeq: number; readonly limit: number },
): Promise<AuditRow[]> {
  if (!page) return db.query(`SELECT * FROM trace.audit WHERE tenant_id = $1 ORDER BY seq, id`, [tenantId]);
  return db.query(`SELECT * FROM trace.audit WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq, id LIMIT $3`, [
    tenantId,
    page.fromSeq,
    page.limit,
  ]);
}

/** The links recording a run's decisions (for the incident bundle). */
export async function auditRowsOfRun(db: DataSource, tenantId: string, runId: string): Promise<AuditRow[]> {
  return db.query(`SELECT * FROM trace.audit WHERE tenant_id = $1 AND run_id = $2 ORDER BY seq`, [tenantId, runId]);
}
