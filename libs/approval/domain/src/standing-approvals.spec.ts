import {
  create,
  RiskClass,
  StandingApprovalExhaustedSchema,
  StandingApprovalGrantedSchema,
  StandingApprovalRevokedSchema,
  StandingApprovalUsedSchema,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { dueForExhaustion, GrantStandingApproval, standingApprovals, usesOf } from './standing-approvals';

const now = 1_700_000_000_000;
const grant: GrantStandingApproval = {
  type: 'GrantStandingApproval',
  standingId: 'sa-1',
  tenantId: 'acme',
  agentId: 'bot',
  tool: 'tickets',
  actions: ['close'],
  maxRiskClass: RiskClass.MEDIUM,
  maxUses: 2,
  expiresAtMs: now + 3_600_000,
  reason: 'routine closes',
  by: 'ann',
  roles: ['approver'],
  now,
};
const granted = create(StandingApprovalGrantedSchema, {
  standingId: 'sa-1',
  tenantId: 'acme',
  agentId: 'bot',
  tool: 'tickets',
  actions: ['close'],
  maxRiskClass: RiskClass.MEDIUM,
  maxUses: 2,
  expiresAtMs: now + 3_600_000,
  grantedBy: 'ann',
  reason: 'routine closes',
  grantedAtMs: now,
});
const used = (requestId: string) =>
  create(StandingApprovalUsedSchema, { standingId: 'sa-1', tenantId: 'acme', requestId, runId: 'run-1' });

describe('standing approvals decider (stream = standing:<tenant>)', () => {
  it('grants a standing approval with its limits', () => {
    given(standingApprovals).when(grant).then([granted]);
  });

  it('refuses callers without the role, critical classes, past expiries and duplicates', () => {
    given(standingApprovals)
      .when({ ...grant, roles: ['auditor'] })
      .thenThrows('forbidden', 'role_required');
    given(standingApprovals)
      .when({ ...grant, maxRiskClass: RiskClass.CRITICAL })
      .thenThrows('invalid', 'critical_not_standing');
    given(standingApprovals)
      .when({ ...grant, expiresAtMs: now })
      .thenThrows('invalid', 'expiry_in_past');
    given(standingApprovals, [granted]).when(grant).thenThrows('conflict', 'exists');
  });

  it('revokes an active one with a reason, once', () => {
    const revoke = {
      type: 'RevokeStandingApproval',
      standingId: 'sa-1',
      tenantId: 'acme',
      reason: 'done',
      by: 'ann',
      roles: ['admin'],
      now: now + 1,
    } as const;
    const events = given(standingApprovals, [granted])
      .when(revoke)
      .then([
        create(StandingApprovalRevokedSchema, {
          standingId: 'sa-1',
          tenantId: 'acme',
          revokedBy: 'ann',
          reason: 'done',
          revokedAtMs: now + 1,
        }),
      ]);
    given(standingApprovals, [granted, ...events])
      .when(revoke)
      .thenThrows('invalid', 'not_active');
    given(standingApprovals, [granted])
      .when({ ...revoke, reason: ' ' })
      .thenThrows('invalid', 'reason_required');
  });

  it('counts a use seen before its grant (another partition)', () => {
    const early = given(standingApprovals, [used('r1'), used('r2'), granted]);
    expect(dueForExhaustion(early.state).map((s) => s.granted.standingId)).toEqual(['sa-1']);
  });

  it('counts each request once and is exhausted at max_uses', () => {
    const exhaust = { type: 'ExhaustStandingApproval', tenantId: 'acme', standingId: 'sa-1', now: now + 5 } as const;
    const once = given(standingApprovals, [granted, used('r1'), used('r1')]);
    expect(usesOf(once.state, 'sa-1')).toBe(1);
    expect(dueForExhaustion(once.state)).toHaveLength(0);
    once.when(exhaust).then([]);
    const twice = given(standingApprovals, [granted, used('r1'), used('r2')]);
    expect(dueForExhaustion(twice.state).map((s) => s.granted.standingId)).toEqual(['sa-1']);
    const events = twice.when(exhaust).then([
      create(StandingApprovalExhaustedSchema, {
        standingId: 'sa-1',
        tenantId: 'acme',
        uses: 2,
        exhaustedAtMs: now + 5,
      }),
    ]);
    const after = given(standingApprovals, [granted, used('r1'), used('r2'), ...events]);
    expect(after.state.approvals.get('sa-1')?.status).toBe('exhausted');
    after.when(exhaust).then([]);
  });
});
