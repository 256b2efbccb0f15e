import {
  ApprovalDeniedSchema,
  ApprovalEscalatedSchema,
  ApprovalExpiredSchema,
  ApprovalGrantedSchema,
  ApprovalTaskOpenedSchema,
  ApprovalVoteRecordedSchema,
  create,
  Envelope,
  GateRequestedSchema,
  Message,
  RiskClass,
  StandingApprovalExhaustedSchema,
  StandingApprovalGrantedSchema,
  StandingApprovalRevokedSchema,
  StandingApprovalUsedSchema,
} from '@warden/contracts';
import { StandingRow, standingProjection, standingUsesProjection } from './standing.projection';
import { TaskRow, tasksProjection } from './tasks.projection';

const now = Date.UTC(2025, 0, 1);
const envelope = (data: Message): Envelope => ({
  id: 'e',
  type: data.$typeName,
  source: 't',
  time: now,
  key: 'run-1',
  tenantId: 'acme',
  agentId: 'bot',
  runId: 'run-1',
  data,
});
const opened = create(ApprovalTaskOpenedSchema, {
  taskId: 't1',
  requestId: 'r1',
  decisionId: 'd1',
  request: create(GateRequestedSchema, {
    requestId: 'r1',
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    tool: 'payments',
    action: 'transfer',
    argumentsDigest: 'sha256:abc',
  }),
  riskClass: RiskClass.CRITICAL,
  riskScore: 90,
  reasons: ['needs a human'],
  openedAtMs: now,
  expiresAtMs: now + 60_000,
});
const apply = (row: TaskRow | null, data: Message) => tasksProjection.evolve(row, envelope(data));

describe('approval.tasks projection', () => {
  it('opens a row with the request as protobuf-JSON, and keeps the first on a replay', () => {
    const row = apply(null, opened)!;
    expect(row).toMatchObject({
      id: 't1',
      tenant_id: 'acme',
      agent_id: 'bot',
      run_id: 'run-1',
      request_id: 'r1',
      decision_id: 'd1',
      status: 'open',
      tool: 'payments',
      action: 'transfer',
      arguments_digest: 'sha256:abc',
      risk_class: 'critical',
      risk_score: 90,
      reasons: ['needs a human'],
      opened_at: '2025-01-01T00:00:00.000Z',
      expires_at: '2025-01-01T00:01:00.000Z',
      resolved_at: null,
    });
    expect(row.request).toMatchObject({ requestId: 'r1', tool: 'payments', argumentsDigest: 'sha256:abc' });
    expect(apply(row, create(ApprovalTaskOpenedSchema, { ...opened, reasons: ['late'] }))).toBe(row);
  });

  it('resolves an open row once: denied, granted or expired', () => {
    const row = apply(null, opened)!;
    const denied = apply(
      row,
      create(ApprovalDeniedSchema, { taskId: 't1', deniedBy: 'killswitch:ks-1', comment: 'stop', deniedAtMs: now + 5 }),
    )!;
    expect(denied).toMatchObject({
      status: 'denied',
      resolved_by: 'killswitch:ks-1',
      comment: 'stop',
      resolved_at: '2025-01-01T00:00:00.005Z',
    });
    expect(apply(denied, create(ApprovalExpiredSchema, { taskId: 't1', expiredAtMs: now + 9 }))).toBe(denied);
    expect(
      apply(row, create(ApprovalGrantedSchema, { taskId: 't1', approvedBy: 'ann', comment: 'ok', grantedAtMs: now })),
    ).toMatchObject({ status: 'granted', resolved_by: 'ann', comment: 'ok' });
    expect(apply(row, create(ApprovalExpiredSchema, { taskId: 't1', expiredAtMs: now }))).toMatchObject({
      status: 'expired',
      resolved_by: null,
    });
    expect(apply(null, create(ApprovalExpiredSchema, { taskId: 't1' }))).toBeNull();
  });

  it('records votes, escalation and the grant with its binding expiry', () => {
    const row = apply(
      null,
      create(ApprovalTaskOpenedSchema, {
        ...opened,
        ownerTeam: 'payments',
        approvalsRequired: 2,
        escalateAtMs: now + 1000,
      }),
    )!;
    expect(row).toMatchObject({
      owner_team: 'payments',
      approvals_required: 2,
      escalate_at: '2025-01-01T00:00:01.000Z',
    });
    const voted = apply(
      row,
      create(ApprovalVoteRecordedSchema, { taskId: 't1', voter: 'ann', comment: 'fine', recordedAtMs: now + 1 }),
    )!;
    const escalated = apply(voted, create(ApprovalEscalatedSchema, { taskId: 't1', escalatedAtMs: now + 2 }))!;
    expect(escalated).toMatchObject({ escalated_at: '2025-01-01T00:00:00.002Z', status: 'open' });
    const granted = apply(
      escalated,
      create(ApprovalGrantedSchema, {
        taskId: 't1',
        approvedBy: 'bob',
        grantedAtMs: now + 3,
        expiresAtMs: now + 60_003,
      }),
    )!;
    expect(granted).toMatchObject({ status: 'granted', grant_expires_at: '2025-01-01T00:01:00.003Z' });
    expect(granted.votes.map((v) => [v.voter, v.approve])).toEqual([
      ['ann', true],
      ['bob', true],
    ]);
  });
});

describe('approval.standing_approvals and standing_approval_uses projections', () => {
  const granted = create(StandingApprovalGrantedSchema, {
    standingId: 'sa-1',
    tenantId: 'acme',
    tool: 'tickets',
    actions: ['close'],
    maxRiskClass: RiskClass.MEDIUM,
    maxUses: 2,
    expiresAtMs: now + 60_000,
    grantedBy: 'ann',
    grantedAtMs: now,
  });
  const used = create(StandingApprovalUsedSchema, {
    standingId: 'sa-1',
    tenantId: 'acme',
    requestId: 'r1',
    usedAtMs: now,
  });
  const standing = (row: StandingRow | null, data: Message) => standingProjection.evolve(row, envelope(data));

  it('ends once, exhausted or revoked; ignores another tenant', () => {
    const row = standing(null, granted)!;
    expect(row).toMatchObject({ id: 'sa-1', status: 'active', max_uses: 2, max_risk_class: 'medium' });
    expect(standing(row, create(StandingApprovalRevokedSchema, { standingId: 'sa-1', tenantId: 'globex' }))).toBe(row);
    const exhausted = standing(
      row,
      create(StandingApprovalExhaustedSchema, { standingId: 'sa-1', tenantId: 'acme', exhaustedAtMs: now + 1 }),
    )!;
    expect(exhausted).toMatchObject({ status: 'exhausted', ended_at: '2025-01-01T00:00:00.001Z' });
    expect(standing(exhausted, create(StandingApprovalRevokedSchema, { standingId: 'sa-1', tenantId: 'acme' }))).toBe(
      exhausted,
    );
  });

  it('keeps one use row per standing approval and request', () => {
    expect(standingUsesProjection.rowId(envelope(used))).toBe('sa-1/r1');
    expect(standingUsesProjection.evolve(null, envelope(used))).toMatchObject({
      standing_id: 'sa-1',
      request_id: 'r1',
    });
  });
});
