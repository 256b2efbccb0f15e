import {
  ApprovalDeniedSchema,
  ApprovalExpiredSchema,
  ApprovalGrantedSchema,
  ApprovalTaskOpenedSchema,
  create,
  Envelope,
  GateRequestedSchema,
  Message,
  RiskClass,
} from '@warden/contracts';
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
});
