import { AuditRecorded, Topic } from '@warden/contracts';
import { invalid } from '@warden/kernel';
import { ServiceRuntime } from '@warden/platform';
import { ChainLink, ChainProblem, ChainReport, compareChains, verifyChain } from '@warden/trace-domain';
import { auditChainRows, linkOf, linkOfEvent } from '@warden/trace-read-models';
import { inPartitionOrder, readEvents } from '../replay/kafka-reader';

export const VERIFY_SOURCES = ['postgres', 'kafka', 'both'] as const;
export type VerifySource = (typeof VERIFY_SOURCES)[number];

export interface AuditVerification {
  readonly tenantId: string;
  readonly ok: boolean;
  /** The chain as stored in Postgres (the trace.audit projection). */
  readonly postgres?: ChainReport;
  /** The chain as recorded on the trace.audit topic, the source of truth. */
  readonly kafka?: ChainReport;
  /** With both: the first record where the stored copy differs from Kafka (or misses its tail). */
  readonly comparison?: ChainProblem | null;
}

/** Verifies a tenant's audit chain in Postgres, in Kafka, or both and against each other. */
export async function verifyAudit(
  runtime: ServiceRuntime,
  tenantId: string,
  source: VerifySource,
): Promise<AuditVerification> {
  if (!VERIFY_SOURCES.includes(source)) {
    throw invalid('invalid_source', `source must be one of ${VERIFY_SOURCES.join(', ')}`, 'source');
  }
  let stored: ChainLink[] | undefined;
  let recorded: ChainLink[] | undefined;
  if (source !== 'kafka') stored = (await auditChainRows(runtime.db, tenantId)).map(linkOf);
  if (source !== 'postgres') {
    const { events } = await readEvents(runtime, [Topic.traceAudit], (_t, record) => record.key === tenantId);
    recorded = inPartitionOrder(events)
      .map((e) => e.event.data as AuditRecorded)
      .filter((r) => r.tenantId === tenantId)
      .map(linkOfEvent);
  }
  const postgres = stored && verifyChain(tenantId, stored);
  const kafka = recorded && verifyChain(tenantId, recorded);
  const comparison = stored && recorded ? compareChains(tenantId, stored, recorded) : undefined;
  const ok = (postgres?.ok ?? true) && (kafka?.ok ?? true) && !comparison;
  return { tenantId, ok, postgres, kafka, comparison };
}
