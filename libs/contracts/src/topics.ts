/**
 * Warden's topics. Names carry a configurable prefix (WARDEN_TOPIC_PREFIX) so tests and
 * environments can share one cluster. Every topic has the same partition count so that
 * co-partitioned topics (same key -> same partition number) can be joined by partition.
 * See docs/adr/0002-topic-layout.md.
 */
export const Topic = {
  /**
   * GateRequested, from agents, with any key on any partition (docs/protocol.md). Raw input (arguments
   * before redaction, proofs): read only by the budget stage, retained for a bounded time.
   */
  gateRequests: 'gate.requests',
  /** BudgetReserved / BudgetReservationRefused / BudgetSettled / BudgetReleased; keyed by run id. */
  budgetReservations: 'budget.reservations',
  /** GateDecided, written only by policy; keyed by run id. */
  gateDecisions: 'gate.decisions',
  /** StepCompleted / StepFailed, from agents, with any key on any partition; read only by the budget stage. */
  gateOutcomes: 'gate.outcomes',
  /**
   * Requests and outcomes that arrived on a partition other than their run's, forwarded unchanged by
   * the budget stage to the run's partition (murmur2 of the run id); written and read by budget only.
   */
  gateRerouted: 'gate.rerouted',
  /** Approval tasks and their resolution, keyed by run id; standing approvals, keyed by "standing:<tenant>". */
  approvalEvents: 'approval.events',
  /**
   * Agent lifecycle, profile, credentials and delegation grants, keyed by agent id; tool contracts,
   * keyed by "tool:<tenant>/<tool>"; signing keys, keyed by "keys".
   */
  registryEvents: 'registry.events',
  /** Policy bundles; keyed by tenant id. */
  policyEvents: 'policy.events',
  /** Budget definitions; keyed by tenant id. */
  budgetEvents: 'budget.events',
  /** Kill switches and revocations, keyed by switch id; RunHalted, keyed by run id. */
  killswitchEvents: 'killswitch.events',
  /** ShadowDecisionRecorded: a shadow candidate bundle's verdict beside each live decision; keyed by run id. */
  policyShadow: 'policy.shadow',
  /** CastApprovalVote / ReviewApprovalTasks, inputs of the approval-tasks processor; keyed by run id. */
  approvalCommands: 'approval.commands',
  /** Messages no consumer could handle, with the reason in headers. */
  deadLetter: 'deadletter',
  /** HoldRequested / HoldSettlementRequested / HoldReleaseRequested / HoldExtensionRequested, from the budget run stage to the tenant's ledger; keyed by tenant id. */
  budgetHolds: 'budget.holds',
  /** The budget ledger's changelog (LedgerHeld, LedgerRefused, LedgerSettled, LedgerReleased, BudgetHoldExtended, BudgetThresholdCrossed); keyed by tenant id. */
  budgetLedger: 'budget.ledger',
  /** AuditQueued: gate decisions re-keyed by tenant id for the audit chain (trace). */
  traceAuditQueue: 'trace.audit.queue',
  /** AuditRecorded: each tenant's hash chain of decisions; keyed by tenant id (trace). */
  traceAudit: 'trace.audit',
  /** HoldPlaced / HoldReleased: legal and incident holds on runs; keyed by tenant id (trace). */
  traceHolds: 'trace.holds',
} as const;

export type TopicKey = keyof typeof Topic;
export type TopicName = (typeof Topic)[TopicKey];

export const ALL_TOPICS: readonly TopicName[] = Object.values(Topic);

export function topicName(prefix: string, topic: TopicName): string {
  return `${prefix}${topic}`;
}
