import {
  ApprovalDenied,
  ApprovalDeniedSchema,
  ApprovalEscalated,
  ApprovalEscalatedSchema,
  ApprovalExpired,
  ApprovalExpiredSchema,
  ApprovalGranted,
  ApprovalGrantedSchema,
  ApprovalTaskOpened,
  ApprovalTaskOpenedSchema,
  ApprovalVoteRecorded,
  ApprovalVoteRecordedSchema,
  create,
  GateRequestedSchema,
  RiskClass,
  toJson,
  Topic,
} from '@warden/contracts';
import { ApprovalTaskStatus } from '@warden/approval-domain';
import { assertNever } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';

export interface VoteRow {
  readonly voter: string;
  readonly approve: boolean;
  readonly comment: string;
  readonly at: string;
}

/** approval.tasks: every approval task with the context an approver needs, for the queue API. */
export interface TaskRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly request_id: string;
  readonly decision_id: string;
  readonly status: ApprovalTaskStatus;
  readonly tool: string;
  readonly action: string;
  readonly arguments_digest: string;
  readonly risk_class: RiskClassName;
  readonly risk_score: number;
  readonly reasons: readonly string[];
  /** The redacted gate request as protobuf-JSON (its redactedArguments are the redacted arguments). */
  readonly request: unknown;
  readonly opened_at: string;
  readonly expires_at: string;
  readonly resolved_at: string | null;
  readonly resolved_by: string | null;
  readonly comment: string | null;
  readonly owner_team: string;
  readonly owner_contact: string;
  readonly diff: string;
  readonly blast_radius: string;
  readonly rollback_path: string;
  readonly policy_version: string;
  readonly tool_contract_version: string;
  readonly approvals_required: number;
  readonly excluded_approvers: readonly string[];
  readonly votes: readonly VoteRow[];
  readonly escalate_at: string | null;
  readonly escalated_at: string | null;
  /** Until when the policy service may use the grant. */
  readonly grant_expires_at: string | null;
  readonly [column: string]: unknown;
}

export type RiskClassName = Lowercase<keyof typeof RiskClass>;
export const RISK_CLASS_NAMES: readonly RiskClassName[] = ['unspecified', 'low', 'medium', 'high', 'critical'];

export const riskClassName = (c: RiskClass) => RiskClass[c].toLowerCase() as RiskClassName;
const iso = (ms: number) => new Date(ms).toISOString();

type TaskEvent =
  ApprovalTaskOpened | ApprovalVoteRecorded | ApprovalEscalated | ApprovalGranted | ApprovalDenied | ApprovalExpired;

function openedRow(e: ApprovalTaskOpened): TaskRow {
  const request = e.request ?? create(GateRequestedSchema);
  return {
    id: e.taskId,
    tenant_id: request.tenantId,
    agent_id: request.agentId,
    run_id: request.runId,
    request_id: e.requestId,
    decision_id: e.decisionId,
    status: 'open',
    tool: request.tool,
    action: request.action,
    arguments_digest: request.argumentsDigest,
    risk_class: riskClassName(e.riskClass),
    risk_score: e.riskScore,
    reasons: e.reasons,
    request: toJson(GateRequestedSchema, request),
    opened_at: iso(e.openedAtMs),
    expires_at: iso(e.expiresAtMs),
    resolved_at: null,
    resolved_by: null,
    comment: null,
    owner_team: e.ownerTeam,
    owner_contact: e.ownerContact,
    diff: e.diff,
    blast_radius: e.blastRadius,
    rollback_path: e.rollbackPath,
    policy_version: e.policyVersion,
    tool_contract_version: e.toolContractVersion,
    approvals_required: e.approvalsRequired,
    excluded_approvers: e.excludedApprovers,
    votes: [],
    escalate_at: e.escalateAtMs > 0 ? iso(e.escalateAtMs) : null,
    escalated_at: null,
    grant_expires_at: null,
  };
}

export const tasksProjection: ProjectionDefinition<TaskRow> = {
  name: 'tasks',
  table: 'approval.tasks',
  topics: [Topic.approvalEvents],
  handles: [
    ApprovalTaskOpenedSchema.typeName,
    ApprovalVoteRecordedSchema.typeName,
    ApprovalEscalatedSchema.typeName,
    ApprovalGrantedSchema.typeName,
    ApprovalDeniedSchema.typeName,
    ApprovalExpiredSchema.typeName,
  ],
  rowId: (event) => (event.data as TaskEvent).taskId,
  evolve(row, event) {
    const e = event.data as TaskEvent;
    if (e.$typeName === 'warden.approval.v1.ApprovalTaskOpened') return row ?? openedRow(e);
    // A task resolves once; a replayed or late resolution changes nothing.
    if (!row || row.status !== 'open') return row;
    switch (e.$typeName) {
      case 'warden.approval.v1.ApprovalVoteRecorded':
        return {
          ...row,
          votes: [...row.votes, { voter: e.voter, approve: true, comment: e.comment, at: iso(e.recordedAtMs) }],
        };
      case 'warden.approval.v1.ApprovalEscalated':
        return { ...row, escalated_at: iso(e.escalatedAtMs) };
      case 'warden.approval.v1.ApprovalGranted':
        return {
          ...row,
          status: 'granted',
          resolved_at: iso(e.grantedAtMs),
          resolved_by: e.approvedBy,
          comment: e.comment,
          votes: [...row.votes, { voter: e.approvedBy, approve: true, comment: e.comment, at: iso(e.grantedAtMs) }],
          grant_expires_at: iso(e.expiresAtMs),
        };
      case 'warden.approval.v1.ApprovalDenied':
        return {
          ...row,
          status: 'denied',
          resolved_at: iso(e.deniedAtMs),
          resolved_by: e.deniedBy,
          comment: e.comment,
          votes:
            e.voteId === ''
              ? row.votes
              : [...row.votes, { voter: e.deniedBy, approve: false, comment: e.comment, at: iso(e.deniedAtMs) }],
        };
      case 'warden.approval.v1.ApprovalExpired':
        return { ...row, status: 'expired', resolved_at: iso(e.expiredAtMs) };
      default:
        return assertNever(e, 'event');
    }
  },
};
