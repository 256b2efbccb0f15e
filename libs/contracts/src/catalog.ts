import { createRegistry, DescMessage } from '@bufbuild/protobuf';
import { file_google_protobuf_struct } from '@bufbuild/protobuf/wkt';
import * as approval from './gen/warden/approval/v1/approval_pb';
import * as budget from './gen/warden/budget/v1/budget_pb';
import * as gate from './gen/warden/gate/v1/gate_pb';
import * as killswitch from './gen/warden/killswitch/v1/killswitch_pb';
import * as policy from './gen/warden/policy/v1/policy_pb';
import * as registry from './gen/warden/registry/v1/registry_pb';
import * as trace from './gen/warden/trace/v1/trace_pb';
import { Topic, TopicName } from './topics';

/** Which event types each topic carries. A type not listed for a topic is dead-lettered. */
export const TOPIC_EVENTS: Readonly<Record<TopicName, readonly DescMessage[]>> = {
  [Topic.gateRequests]: [gate.GateRequestedSchema],
  [Topic.budgetReservations]: [
    budget.BudgetReservedSchema,
    budget.BudgetReservationRefusedSchema,
    budget.BudgetSettledSchema,
    budget.BudgetReleasedSchema,
    budget.BudgetHeldSchema,
    budget.BudgetHoldExtendedSchema,
    budget.BudgetThresholdCrossedSchema,
    budget.GateRequestRejectedSchema,
  ],
  [Topic.gateDecisions]: [gate.GateDecidedSchema],
  [Topic.gateOutcomes]: [gate.StepCompletedSchema, gate.StepFailedSchema],
  [Topic.gateRerouted]: [gate.GateRequestedSchema, gate.StepCompletedSchema, gate.StepFailedSchema],
  [Topic.approvalEvents]: [
    approval.ApprovalTaskOpenedSchema,
    approval.ApprovalGrantedSchema,
    approval.ApprovalDeniedSchema,
    approval.ApprovalExpiredSchema,
    approval.StandingApprovalGrantedSchema,
    approval.StandingApprovalRevokedSchema,
    approval.StandingApprovalExhaustedSchema,
    approval.ApprovalVoteRecordedSchema,
    approval.ApprovalVoteRejectedSchema,
    approval.ApprovalEscalatedSchema,
    approval.ApprovalNotificationRequestedSchema,
    approval.StandingApprovalUsedSchema,
    approval.ApprovalNotificationDeadLetteredSchema,
  ],
  [Topic.registryEvents]: [
    registry.AgentRegisteredSchema,
    registry.AgentProfileUpdatedSchema,
    registry.AgentActivatedSchema,
    registry.AgentSuspendedSchema,
    registry.AgentRetiredSchema,
    registry.ToolContractPublishedSchema,
    registry.ToolContractWithdrawnSchema,
    registry.AgentCredentialRegisteredSchema,
    registry.AgentCredentialRevokedSchema,
    registry.DelegationGrantedSchema,
    registry.DelegationRevokedSchema,
    registry.SigningKeyRotatedSchema,
    registry.SigningKeyRetiredSchema,
    registry.IdentityLinkedSchema,
    registry.IdentityUnlinkedSchema,
  ],
  [Topic.policyEvents]: [
    policy.PolicyBundlePublishedSchema,
    policy.PolicyBundleActivatedSchema,
    policy.PolicyBundleRolledBackSchema,
    policy.ShadowBundleSetSchema,
    policy.ShadowBundleClearedSchema,
  ],
  [Topic.policyShadow]: [policy.ShadowDecisionRecordedSchema],
  [Topic.budgetEvents]: [
    budget.BudgetDefinedSchema,
    budget.BudgetRemovedSchema,
    budget.PriceTableVersionPublishedSchema,
  ],
  [Topic.killswitchEvents]: [
    killswitch.KillSwitchEngagedSchema,
    killswitch.KillSwitchReleasedSchema,
    killswitch.RunHaltedSchema,
    killswitch.DecisionTokensRevokedSchema,
    killswitch.OwnerNotifiedSchema,
    killswitch.OwnerNotificationDeliveredSchema,
  ],
  [Topic.deadLetter]: [],
  [Topic.approvalCommands]: [approval.CastApprovalVoteSchema, approval.ReviewApprovalTasksSchema],
  [Topic.budgetHolds]: [
    budget.HoldRequestedSchema,
    budget.HoldSettlementRequestedSchema,
    budget.HoldReleaseRequestedSchema,
    budget.HoldExtensionRequestedSchema,
  ],
  [Topic.budgetLedger]: [
    budget.LedgerHeldSchema,
    budget.LedgerRefusedSchema,
    budget.LedgerSettledSchema,
    budget.LedgerReleasedSchema,
    budget.BudgetHoldExtendedSchema,
    budget.BudgetThresholdCrossedSchema,
  ],
  [Topic.traceAuditQueue]: [trace.AuditQueuedSchema],
  [Topic.traceAudit]: [trace.AuditRecordedSchema],
  [Topic.traceHolds]: [trace.HoldPlacedSchema, trace.HoldReleasedSchema],
};

/** Every Warden message type, for decoding by CloudEvents type (= protobuf full name). */
export const typeRegistry = createRegistry(
  file_google_protobuf_struct,
  gate.file_warden_gate_v1_gate,
  registry.file_warden_registry_v1_registry,
  budget.file_warden_budget_v1_budget,
  approval.file_warden_approval_v1_approval,
  killswitch.file_warden_killswitch_v1_killswitch,
  policy.file_warden_policy_v1_policy,
  trace.file_warden_trace_v1_trace,
);

export function isAllowedOn(topic: TopicName, type: string): boolean {
  return TOPIC_EVENTS[topic].some((schema) => schema.typeName === type);
}
