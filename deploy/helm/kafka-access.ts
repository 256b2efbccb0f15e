import { ALL_TOPICS, Topic, TopicName } from '@warden/contracts';

/** The six services, each a Kafka principal of its own (a KafkaUser in the chart). */
export const CHART_SERVICES = ['registry', 'policy', 'budget', 'approval', 'trace', 'killswitch'] as const;
export type ChartService = (typeof CHART_SERVICES)[number];

/** Which Warden topics a service produces to and which it reads (topic names without the prefix). */
export interface ServiceTopics {
  readonly writes: readonly TopicName[];
  readonly reads: readonly TopicName[];
}

/**
 * Who writes and reads which topic, from the services' processors, tables and projections. A
 * processor rebuilds its state from its own output (its changelog), so every service also reads
 * what it writes; every consumer may dead-letter. The chart's KafkaUser ACLs are generated from
 * this table (deploy/helm/generate.ts); docs/operations.md says how it meets the ACL matrix of
 * the platform's Kafka provisioning.
 */
export const SERVICE_TOPICS: Record<ChartService, ServiceTopics> = {
  registry: {
    writes: [Topic.registryEvents],
    reads: [Topic.budgetEvents],
  },
  policy: {
    writes: [Topic.gateDecisions, Topic.policyEvents, Topic.policyShadow],
    reads: [
      Topic.budgetReservations,
      Topic.approvalEvents,
      Topic.gateOutcomes,
      Topic.registryEvents,
      Topic.killswitchEvents,
    ],
  },
  budget: {
    writes: [Topic.budgetReservations, Topic.budgetEvents, Topic.budgetHolds, Topic.budgetLedger],
    reads: [Topic.gateRequests, Topic.gateDecisions, Topic.gateOutcomes, Topic.registryEvents, Topic.killswitchEvents],
  },
  approval: {
    writes: [Topic.approvalEvents, Topic.approvalCommands],
    reads: [Topic.gateDecisions, Topic.killswitchEvents, Topic.registryEvents],
  },
  trace: {
    writes: [Topic.traceAuditQueue, Topic.traceAudit, Topic.traceHolds],
    reads: ALL_TOPICS,
  },
  killswitch: {
    writes: [Topic.killswitchEvents],
    reads: [Topic.registryEvents, Topic.gateRequests, Topic.gateOutcomes],
  },
};

export type AclOperation = 'Read' | 'Write' | 'Describe' | 'Create';

/** One ACL as Strimzi's KafkaUser (v1) spells it; `name` is relative to the topic prefix. */
export interface ChartAcl {
  readonly resource: {
    readonly type: 'topic' | 'group';
    readonly name: string;
    readonly patternType: 'literal' | 'prefix';
  };
  readonly operations: readonly AclOperation[];
}

/**
 * A service's ACLs: write (and read back) its own topics and the dead-letter topic, read its
 * inputs, describe every Warden topic (it checks at start that they all exist, and a topic it
 * cannot describe would look missing), and use consumer groups under the prefix.
 */
export function serviceAcls(service: ChartService): ChartAcl[] {
  const { writes, reads } = SERVICE_TOPICS[service];
  const written = [...writes, Topic.deadLetter];
  const readOnly = [...new Set(reads)].filter((t) => !written.includes(t));
  const topic = (
    name: string,
    operations: AclOperation[],
    patternType: 'literal' | 'prefix' = 'literal',
  ): ChartAcl => ({
    resource: { type: 'topic', name, patternType },
    operations,
  });
  return [
    topic('', ['Describe'], 'prefix'),
    ...written.map((t) => topic(t, ['Write', 'Read', 'Describe'])),
    ...readOnly.map((t) => topic(t, ['Read', 'Describe'])),
    { resource: { type: 'group', name: '', patternType: 'prefix' }, operations: ['Read', 'Describe'] },
  ];
}
