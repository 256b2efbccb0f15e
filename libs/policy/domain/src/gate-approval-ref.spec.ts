import {
  ApprovalGrantedSchema,
  approvalTaskId,
  create,
  GateDecided,
  MessageInitShape,
  Verdict,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { NOW, request, reservation, view } from './gate.fixtures';
import { gate, GateCommand } from './gate';

/** The approval record a decision carries (ApprovalRef): which task decides it, and who approved. */
describe('the approval a decision names (docs/adr/0116)', () => {
  const decideCmd: GateCommand = {
    type: 'DecideGate',
    request: request({ action: 'approve' }),
    reservation: reservation(),
    view: view(),
    decisionId: 'dec-1',
    now: NOW,
  };
  const one = (cmd: GateCommand, history: GateDecided[] = []) => given(gate, history).when(cmd).thenEvents()[0];
  const grant = (over: MessageInitShape<typeof ApprovalGrantedSchema> = {}) =>
    create(ApprovalGrantedSchema, {
      taskId: approvalTaskId('acme', 'run-1', 'req-1'),
      requestId: 'req-1',
      runId: 'run-1',
      argumentsDigest: 'sha256:args-1',
      approvedBy: 'bob',
      approvers: ['ann', 'bob'],
      policyVersion: '',
      expiresAtMs: NOW + 60_000,
      ...over,
    } as MessageInitShape<typeof ApprovalGrantedSchema>);

  it('a pending_approval decision names the task that will decide it, derived from tenant, run and request id', () => {
    const pending = one(decideCmd);
    expect(pending.verdict).toBe(Verdict.PENDING_APPROVAL);
    expect(pending.context!.approval).toMatchObject({
      taskId: approvalTaskId('acme', 'run-1', 'req-1'),
      approvedBy: '',
      approvers: [],
      standingApprovalId: '',
    });
  });

  it('an allow without approval names no task', () => {
    const allowed = one({ ...decideCmd, request: request() });
    expect(allowed.verdict).toBe(Verdict.ALLOW);
    expect(allowed.context!.approval).toBeUndefined();
  });

  it('the final decision after a quorum lists every approver; approved_by stays the last of them', () => {
    const pending = one(decideCmd);
    const final = one(
      { type: 'ResolveApproval', resolution: grant(), view: view(), decisionId: 'dec-2', now: NOW + 5000 },
      [pending],
    );
    expect(final.verdict).toBe(Verdict.ALLOW);
    expect(final.context!.approval).toMatchObject({
      taskId: pending.context!.approval!.taskId,
      approvers: ['ann', 'bob'],
      approvedBy: 'bob',
      resolvedAtMs: NOW + 5000,
    });
  });
});
