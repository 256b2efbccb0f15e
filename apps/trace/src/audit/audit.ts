import { AuditQueued, AuditRecorded, is, AuditQueuedSchema, Topic } from '@warden/contracts';
import { OFF_GATE_PATH, Processor, ServiceRuntime } from '@warden/platform';
import { auditChain, ChainDecision, ChainState } from '@warden/trace-domain';
import { AuditForwarder } from './forwarder';

/**
 * The audit chain: the forwarder re-keys decisions by tenant; the `trace-audit` processor (one
 * writer per tenant, state rebuilt from trace.audit) links them; the `audit` projection keeps
 * them in Postgres for queries and verification.
 */
export function wireAudit(
  runtime: ServiceRuntime,
  partitions: number,
): { forwarder: AuditForwarder; chain: Processor<ChainDecision, ChainState, AuditRecorded> } {
  const chain = runtime.process<ChainDecision, ChainState, AuditRecorded>({
    name: 'trace-audit',
    inputs: [Topic.traceAuditQueue],
    outputs: [Topic.traceAudit],
    decider: auditChain,
    batching: OFF_GATE_PATH,
    command(input) {
      if (!is(input, AuditQueuedSchema)) return null;
      const queued: AuditQueued = input.data;
      if (!queued.decision) return null;
      return {
        type: 'ChainDecision',
        tenantId: queued.tenantId,
        decision: queued.decision,
        sourcePartition: queued.sourcePartition,
        sourceOffset: queued.sourceOffset,
      };
    },
    route: (record, input) => ({
      topic: Topic.traceAudit,
      key: input.key,
      tenantId: record.tenantId,
      agentId: record.agentId,
      runId: record.runId,
    }),
  });
  return { forwarder: new AuditForwarder(runtime, partitions), chain };
}
