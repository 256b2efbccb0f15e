import {
  create,
  RiskClass,
  StandingApprovalExhausted,
  StandingApprovalExhaustedSchema,
  StandingApprovalGranted,
  StandingApprovalGrantedSchema,
  StandingApprovalRevoked,
  StandingApprovalRevokedSchema,
  StandingApprovalUsed,
} from '@warden/contracts';
import { assertNever, conflict, Decider, invalid, notFound, ownTenant } from '@warden/kernel';

/** The stream of a tenant's standing approvals (the Kafka key on approval.events). */
export const standingStream = (tenantId: string) => `standing:${tenantId}`;

export type StandingApprovalEvent =
  StandingApprovalGranted | StandingApprovalRevoked | StandingApprovalExhausted | StandingApprovalUsed;

export interface StandingApproval {
  readonly granted: StandingApprovalGranted;
  readonly status: 'active' | 'revoked' | 'exhausted';
}

/**
 * A tenant's standing approvals, by id, and their uses: request ids of the gate decisions allowed
 * under each. Uses are recorded on the runs' partitions, so a reader may see one before the grant;
 * they are kept apart from the grant for that reason.
 */
export interface StandingApprovalsState {
  readonly approvals: ReadonlyMap<string, StandingApproval>;
  readonly uses: ReadonlyMap<string, ReadonlySet<string>>;
}

export const usesOf = (state: StandingApprovalsState, standingId: string): number =>
  state.uses.get(standingId)?.size ?? 0;

interface Actor {
  readonly by: string;
  readonly roles: readonly string[];
  readonly tenantId: string;
  readonly now: number;
}

export type GrantStandingApproval = Actor & {
  readonly type: 'GrantStandingApproval';
  readonly standingId: string;
  readonly agentId: string;
  readonly tool: string;
  readonly actions: readonly string[];
  readonly maxRiskClass: RiskClass;
  readonly maxUses: number;
  readonly expiresAtMs: number;
  readonly reason: string;
};

export type RevokeStandingApproval = Actor & {
  readonly type: 'RevokeStandingApproval';
  readonly standingId: string;
  readonly reason: string;
};

/** Records that a standing approval reached its max_uses (the service issues it on seeing the uses). */
export type ExhaustStandingApproval = {
  readonly type: 'ExhaustStandingApproval';
  readonly tenantId: string;
  readonly standingId: string;
  readonly now: number;
};

export type StandingApprovalCommand = GrantStandingApproval | RevokeStandingApproval | ExhaustStandingApproval;

function authorise(actor: Actor): void {
  ownTenant(actor, 'approval.standing.write');
}

function grant(c: GrantStandingApproval, state: StandingApprovalsState): StandingApprovalEvent[] {
  authorise(c);
  if (c.standingId === '') throw invalid('invalid_id', 'standingId is required', 'standingId');
  if (state.approvals.has(c.standingId)) throw conflict('exists', `standing approval ${c.standingId} exists`);
  if (c.tool === '') throw invalid('tool_required', 'a standing approval names its tool', 'tool');
  if (c.maxRiskClass === RiskClass.UNSPECIFIED) {
    throw invalid('max_risk_class_required', 'maxRiskClass is required', 'maxRiskClass');
  }
  if (c.maxRiskClass === RiskClass.CRITICAL) {
    throw invalid(
      'critical_not_standing',
      'critical actions always need a task; maxRiskClass must be below critical',
      'maxRiskClass',
    );
  }
  if (!(c.expiresAtMs > c.now)) throw invalid('expiry_in_past', 'expiresAtMs must be in the future', 'expiresAtMs');
  return [
    create(StandingApprovalGrantedSchema, {
      standingId: c.standingId,
      tenantId: c.tenantId,
      agentId: c.agentId,
      tool: c.tool,
      actions: [...c.actions],
      maxRiskClass: c.maxRiskClass,
      maxUses: c.maxUses,
      expiresAtMs: c.expiresAtMs,
      grantedBy: c.by,
      reason: c.reason,
      grantedAtMs: c.now,
    }),
  ];
}

function revoke(c: RevokeStandingApproval, state: StandingApprovalsState): StandingApprovalEvent[] {
  authorise(c);
  const s = state.approvals.get(c.standingId);
  if (!s) throw notFound('not_found', `no standing approval ${c.standingId}`);
  if (s.status !== 'active') throw invalid('not_active', `standing approval ${c.standingId} is ${s.status}`);
  if (c.reason.trim() === '') throw invalid('reason_required', 'revoking needs a reason', 'reason');
  return [
    create(StandingApprovalRevokedSchema, {
      standingId: c.standingId,
      tenantId: c.tenantId,
      revokedBy: c.by,
      reason: c.reason,
      revokedAtMs: c.now,
    }),
  ];
}

function exhaust(c: ExhaustStandingApproval, state: StandingApprovalsState): StandingApprovalEvent[] {
  const s = state.approvals.get(c.standingId);
  const uses = usesOf(state, c.standingId);
  if (!s || s.status !== 'active' || s.granted.maxUses === 0 || uses < s.granted.maxUses) return [];
  return [
    create(StandingApprovalExhaustedSchema, {
      standingId: c.standingId,
      tenantId: c.tenantId,
      uses,
      exhaustedAtMs: c.now,
    }),
  ];
}

/** The standing approvals that reached max_uses and are not yet recorded as exhausted. */
export const dueForExhaustion = (state: StandingApprovalsState): StandingApproval[] =>
  [...state.approvals.values()].filter(
    (s) => s.status === 'active' && s.granted.maxUses > 0 && usesOf(state, s.granted.standingId) >= s.granted.maxUses,
  );

const withApproval = (state: StandingApprovalsState, id: string, s: StandingApproval): StandingApprovalsState => ({
  ...state,
  approvals: new Map(state.approvals).set(id, s),
});

export const standingApprovals: Decider<StandingApprovalCommand, StandingApprovalsState, StandingApprovalEvent> = {
  initialState: { approvals: new Map(), uses: new Map() },
  decide(command, state) {
    switch (command.type) {
      case 'GrantStandingApproval':
        return grant(command, state);
      case 'RevokeStandingApproval':
        return revoke(command, state);
      case 'ExhaustStandingApproval':
        return exhaust(command, state);
      default:
        return assertNever(command, 'command');
    }
  },
  evolve(state, event) {
    if (event.$typeName === 'warden.approval.v1.StandingApprovalGranted') {
      if (state.approvals.has(event.standingId)) return state;
      return withApproval(state, event.standingId, { granted: event, status: 'active' });
    }
    if (event.$typeName === 'warden.approval.v1.StandingApprovalUsed') {
      const uses = state.uses.get(event.standingId) ?? new Set<string>();
      if (uses.has(event.requestId)) return state;
      return { ...state, uses: new Map(state.uses).set(event.standingId, new Set(uses).add(event.requestId)) };
    }
    const s = state.approvals.get(event.standingId);
    if (!s) return state;
    switch (event.$typeName) {
      case 'warden.approval.v1.StandingApprovalRevoked':
        return s.status === 'active' ? withApproval(state, event.standingId, { ...s, status: 'revoked' }) : state;
      case 'warden.approval.v1.StandingApprovalExhausted':
        return s.status === 'active' ? withApproval(state, event.standingId, { ...s, status: 'exhausted' }) : state;
      default:
        return assertNever(event, 'event');
    }
  },
};
