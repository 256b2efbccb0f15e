import { AuditQueuedSchema, create, decode, GateDecided, Topic, topicName } from '@warden/contracts';
import { ConsumerHandle, deterministicId, RecordOut, ServiceRuntime, toRecord } from '@warden/platform';

/**
 * Forwards every gate decision to trace.audit.queue, re-keyed by tenant id, so the audit chain
 * has one writer per tenant that sees the tenant's decisions in one order (docs/adr/0061).
 * At least once: offsets are committed after the forwarded records are acknowledged, and the
 * chain skips a decision it has already chained from the same partition and offset. Records
 * that do not decode are left to the projections, which dead-letter them.
 */
export class AuditForwarder {
  private handle: ConsumerHandle | undefined;
  readonly name = 'audit-forwarder';

  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly partitions: number,
  ) {}

  async start(): Promise<void> {
    const { port, prefix, logger, metrics } = this.runtime;
    const log = logger.child({ consumer: this.name });
    const consumer = `trace.${this.name}`;
    this.handle = await port.consume({
      groupId: `${prefix}trace.${this.name}`,
      topics: [topicName(prefix, Topic.gateDecisions)],
      fromBeginning: true,
      commitOffsets: true,
      concurrency: this.partitions,
      batching: { minBytes: 16 * 1024, maxWaitMs: 100 },
      onCrash: (error) => {
        log.error('audit forwarder crashed', { error });
      },
      onBatch: async (topic, partition, records) => {
        const out: RecordOut[] = [];
        for (const record of records) {
          let decided;
          try {
            decided = decode(Topic.gateDecisions, record);
          } catch (error) {
            metrics.messages.inc({ consumer, topic: Topic.gateDecisions, outcome: 'ignored' });
            log.warn('not forwarding an undecodable decision', { partition, offset: record.offset, error });
            continue;
          }
          const decision = decided.data as GateDecided;
          const tenantId = decision.tenantId || decided.tenantId;
          out.push(
            toRecord(
              prefix,
              'warden://trace/audit-forwarder',
              deterministicId(consumer, topic, partition, record.offset),
              decided.time,
              create(AuditQueuedSchema, {
                tenantId,
                sourcePartition: partition,
                sourceOffset: Number(record.offset),
                decision,
              }),
              {
                topic: Topic.traceAuditQueue,
                key: tenantId,
                tenantId,
                agentId: decision.agentId,
                runId: decision.runId,
              },
            ),
          );
        }
        if (out.length > 0) await port.publish(out);
        metrics.messages.inc({ consumer, topic: Topic.gateDecisions, outcome: 'handled' }, out.length);
        return records.at(-1)?.offset;
      },
    });
  }

  async stop(): Promise<void> {
    await this.handle?.stop();
    this.handle = undefined;
  }
}
