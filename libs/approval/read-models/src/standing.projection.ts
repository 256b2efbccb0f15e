import {
  StandingApprovalExhausted,
  StandingApprovalExhaustedSchema,
  StandingApprovalGranted,
  StandingApprovalGrantedSchema,
  StandingApprovalRevoked,
  StandingApprovalRevokedSchema,
  StandingApprovalUsed,
  StandingApprovalUsedSchema,
  Topic,
} from '@warden/contracts';
import { assertNever } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';
import { RiskClassName, riskClassName } from './tasks.projection';

/**
 * approval.standing_approvals: each standing approval and its limits. Its uses are rows of
 * approval.standing_approval_uses: they are recorded on the runs' partitions, so they may be
 * projected before the grant is, and are counted when read.
 */
export interface StandingRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly tool: string;
  readonly actions: readonly string[];
  readonly max_risk_class: RiskClassName;
  readonly max_uses: number;
  readonly status: 'active' | 'revoked' | 'exhausted';
  readonly expires_at: string;
  readonly granted_by: string;
  readonly reason: string;
  readonly granted_at: string;
  readonly ended_at: string | null;
  readonly ended_by: string | null;
  readonly [column: string]: unknown;
}

/** approval.standing_approval_uses: one row per gate decision allowed under a standing approval. */
export interface StandingUseRow {
  readonly id: string;
  readonly standing_id: string;
  readonly tenant_id: string;
  readonly request_id: string;
  readonly run_id: string;
  readonly decision_id: string;
  readonly used_at: string;
  readonly [column: string]: unknown;
}

const iso = (ms: number) => new Date(ms).toISOString();
type StandingEvent = StandingApprovalGranted | StandingApprovalRevoked | StandingApprovalExhausted;

export const standingProjection: ProjectionDefinition<StandingRow> = {
  name: 'standing',
  table: 'approval.standing_approvals',
  topics: [Topic.approvalEvents],
  handles: [
    StandingApprovalGrantedSchema.typeName,
    StandingApprovalRevokedSchema.typeName,
    StandingApprovalExhaustedSchema.typeName,
  ],
  rowId: (event) => (event.data as StandingEvent).standingId,
  evolve(row, event) {
    const e = event.data as StandingEvent;
    if (e.$typeName === 'warden.approval.v1.StandingApprovalGranted') {
      return (
        row ?? {
          id: e.standingId,
          tenant_id: e.tenantId,
          agent_id: e.agentId,
          tool: e.tool,
          actions: e.actions,
          max_risk_class: riskClassName(e.maxRiskClass),
          max_uses: e.maxUses,
          status: 'active',
          expires_at: iso(e.expiresAtMs),
          granted_by: e.grantedBy,
          reason: e.reason,
          granted_at: iso(e.grantedAtMs),
          ended_at: null,
          ended_by: null,
        }
      );
    }
    if (!row || row.tenant_id !== e.tenantId) return row;
    switch (e.$typeName) {
      case 'warden.approval.v1.StandingApprovalRevoked':
        return row.status === 'active'
          ? { ...row, status: 'revoked', ended_at: iso(e.revokedAtMs), ended_by: e.revokedBy }
          : row;
      case 'warden.approval.v1.StandingApprovalExhausted':
        return row.status === 'active' ? { ...row, status: 'exhausted', ended_at: iso(e.exhaustedAtMs) } : row;
      default:
        return assertNever(e, 'event');
    }
  },
};

export const standingUsesProjection: ProjectionDefinition<StandingUseRow> = {
  name: 'standing-uses',
  table: 'approval.standing_approval_uses',
  topics: [Topic.approvalEvents],
  handles: [StandingApprovalUsedSchema.typeName],
  rowId: (event) => {
    const e = event.data as StandingApprovalUsed;
    return `${e.standingId}/${e.requestId}`;
  },
  evolve(row, event) {
    const e = event.data as StandingApprovalUsed;
    return (
      row ?? {
        id: `${e.standingId}/${e.requestId}`,
        standing_id: e.standingId,
        tenant_id: e.tenantId,
        request_id: e.requestId,
        run_id: e.runId,
        decision_id: e.decisionId,
        used_at: iso(e.usedAtMs),
      }
    );
  },
};
