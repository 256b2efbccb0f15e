import { create, GateDecidedSchema, GateRequestedSchema, StepFailed, Verdict } from '@warden/contracts';
import { DomainError } from '@warden/kernel';
import { decisionAnswer, decodeBody, decodeOutcome, failClosedAnswer } from './gate-answer';

const ids = { requestId: 'r-1', stepId: 'r-1', idempotencyKey: 'run-1:r-1' };

function problem(run: () => unknown): { code: string; field?: string } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { code: error.code, field: error.field };
  }
  throw new Error('no problem was thrown');
}

describe('decodeBody', () => {
  it('decodes protobuf-JSON as the gate decodes agent JSON', () => {
    expect(decodeBody(GateRequestedSchema, { requestId: 'r-1', actionKind: 'tool_call' })).toMatchObject({
      requestId: 'r-1',
      actionKind: 3,
    });
  });

  it('refuses a body that is not an object, and unknown or badly typed fields by name', () => {
    expect(problem(() => decodeBody(GateRequestedSchema, [1]))).toEqual({ code: 'undecodable_data', field: undefined });
    expect(problem(() => decodeBody(GateRequestedSchema, null))).toMatchObject({ code: 'undecodable_data' });
    expect(problem(() => decodeBody(GateRequestedSchema, { tol: 'kb' }))).toEqual({
      code: 'unknown_field',
      field: 'tol',
    });
    expect(problem(() => decodeBody(GateRequestedSchema, { deadlineMs: 'soon' }))).toMatchObject({
      code: 'invalid_value',
      field: 'deadlineMs',
    });
  });
});

describe('decodeOutcome', () => {
  it('is a StepCompleted or a StepFailed by status', () => {
    expect(decodeOutcome({ status: 'completed', requestId: 'r-1', resultDigest: 'x' }).$typeName).toBe(
      'warden.gate.v1.StepCompleted',
    );
    const failed = decodeOutcome({ status: 'failed', requestId: 'r-1', error: 'boom', retryable: true }) as StepFailed;
    expect(failed).toMatchObject({ $typeName: 'warden.gate.v1.StepFailed', error: 'boom', retryable: true });
  });

  it('refuses a missing or unknown status, and fields of the other kind, by name', () => {
    expect(problem(() => decodeOutcome({ requestId: 'r-1' }))).toEqual({ code: 'missing_field', field: 'status' });
    expect(problem(() => decodeOutcome({ status: 'done' }))).toEqual({ code: 'invalid_value', field: 'status' });
    expect(problem(() => decodeOutcome({ status: 'completed', error: 'boom' }))).toEqual({
      code: 'unknown_field',
      field: 'error',
    });
    expect(problem(() => decodeOutcome('x'))).toMatchObject({ code: 'undecodable_data' });
  });
});

describe('the answer of a gate call', () => {
  it('is allowed only on allow, with the decision token and the decision itself', () => {
    const d = create(GateDecidedSchema, {
      requestId: 'r-1',
      verdict: Verdict.ALLOW,
      final: true,
      reason: 'granted',
      decisionId: 'd-1',
      decisionToken: 'ey.tok',
      tokenExpiresAtMs: 5,
      hints: ['h'],
    });
    expect(decisionAnswer(ids, d)).toMatchObject({
      ...ids,
      verdict: 'allow',
      allowed: true,
      final: true,
      timedOut: false,
      reason: 'granted',
      decisionId: 'd-1',
      decisionToken: 'ey.tok',
      tokenExpiresAtMs: 5,
      hints: ['h'],
      decision: { requestId: 'r-1', verdict: 'VERDICT_ALLOW' },
    });
  });

  it.each([
    [Verdict.DENY, 'deny', true],
    [Verdict.PENDING_APPROVAL, 'pending_approval', false],
    [Verdict.EXPIRED, 'expired', true],
    [Verdict.ALREADY_COMPLETED, 'already_completed', true],
    [Verdict.UNSPECIFIED, 'deny', true],
  ])('is not allowed on verdict %s (%s)', (verdict, name, final) => {
    const a = decisionAnswer(ids, create(GateDecidedSchema, { requestId: 'r-1', verdict, final }));
    expect(a).toMatchObject({ verdict: name, allowed: false, final, timedOut: false });
    expect(a.decisionToken).toBeUndefined();
  });

  it('names the approval task and its approvers of a pending approval', () => {
    const d = create(GateDecidedSchema, {
      verdict: Verdict.PENDING_APPROVAL,
      context: { approval: { taskId: 't-1', approvers: ['olga'] } },
    });
    expect(decisionAnswer(ids, d)).toMatchObject({ approvalTaskId: 't-1', approvers: ['olga'] });
  });

  it('fails closed without a decision: a timed-out deny, never an allow', () => {
    expect(failClosedAnswer(ids, 'no decision within 5 ms (fail closed)')).toEqual({
      ...ids,
      verdict: 'deny',
      allowed: false,
      final: true,
      timedOut: true,
      reason: 'no decision within 5 ms (fail closed)',
      hints: [],
    });
  });
});
