import {
  create,
  GateRequested,
  GateRequestedSchema,
  newProofKey,
  outcomeProof,
  requestProof,
  StepCompleted,
  StepCompletedSchema,
} from '@warden/contracts';
import { DomainError } from '@warden/kernel';
import { decodeBody } from './gate-answer';
import { prepareGateRequest, prepareOutcome, requestToProve } from './gate-request';
import { testAgent } from './test-agent';

const T0 = 1_700_000_000_000;
const key = newProofKey();
const agent = testAgent(key, 'acme', 'bot');
const rules = { maxDeadlineMs: 300_000 };

/** A request as POST /v1/gate decodes it from JSON (no tenantId, agentId or agentToken: the token's). */
const sent = (over: Record<string, unknown> = {}): GateRequested =>
  decodeBody<GateRequested>(GateRequestedSchema, {
    requestId: 'r-1',
    runId: 'run-1',
    actionKind: 'tool_call',
    tool: 'kb',
    action: 'read',
    arguments: { q: 'refunds' },
    requestedAtMs: T0,
    deadlineMs: T0 + 5000,
    ...over,
  });
/** The proof a client makes of `r` (with the token's ids, as the gateway fills them in). */
const proofOf = (r: GateRequested, k = key) =>
  requestProof(requestToProve({ ...r, tenantId: 'acme', agentId: 'bot' }, agent.token), k);

function problem(run: () => unknown): { kind: string; code: string; field?: string } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { kind: error.kind, code: error.code, field: error.field };
  }
  throw new Error('no problem was thrown');
}

describe('prepareGateRequest (what the gateway publishes to gate.requests)', () => {
  it("fills in the token's ids, the defaults, the digest and the token; takes the proof from the header", () => {
    const r = sent();
    const prepared = prepareGateRequest(r, agent, proofOf(r), rules);
    expect(prepared).toMatchObject({
      tenantId: 'acme',
      agentId: 'bot',
      stepId: 'r-1',
      attempt: 1,
      idempotencyKey: 'run-1:r-1',
      agentToken: agent.token,
      requestProof: proofOf(r),
    });
    expect(prepared.argumentsDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(prepared.arguments).toEqual({ q: 'refunds' });
  });

  it('takes the proof from requestProof too, and the ids when they are the token’s', () => {
    const r = sent({ tenantId: 'acme', agentId: 'bot' });
    expect(prepareGateRequest({ ...r, requestProof: proofOf(r) }, agent, undefined, rules).requestProof).toBe(
      proofOf(r),
    );
    expect(prepareGateRequest({ ...r, requestProof: proofOf(r) }, agent, proofOf(r), rules).agentId).toBe('bot');
  });

  it.each([
    ['another agent', { agentId: 'eve' }],
    ['another tenant', { tenantId: 'initech' }],
  ])("refuses a request naming %s than the token's (403 wrong_agent)", (_, over) => {
    const r = sent(over);
    expect(problem(() => prepareGateRequest(r, agent, proofOf(r), rules))).toEqual({
      kind: 'forbidden',
      code: 'wrong_agent',
      field: undefined,
    });
  });

  it.each([
    ['agentToken (the Authorization header carries it)', { agentToken: 'other' }, 'refused_field', 'agentToken'],
    ['no deadline', { deadlineMs: undefined }, 'missing_field', 'deadlineMs'],
    ['a deadline before the request', { deadlineMs: T0 - 1 }, 'invalid_value', 'deadlineMs'],
    ['a deadline too far out', { deadlineMs: T0 + 300_001 }, 'invalid_value', 'deadlineMs'],
    ['a tool_call without its tool', { tool: undefined }, 'missing_field', 'tool'],
    ['a bad request id', { requestId: 'a b' }, 'invalid_value', 'requestId'],
    [
      'a digest of other arguments',
      { argumentsDigest: `sha256:${'0'.repeat(64)}` },
      'digest_mismatch',
      'argumentsDigest',
    ],
    ['a field the gate sets', { credentialId: 'c' }, 'refused_field', 'credentialId'],
  ])('refuses %s, naming the field', (_, over, code, field) => {
    const r = sent(over);
    expect(problem(() => prepareGateRequest(r, agent, proofOf(r), rules))).toMatchObject({
      kind: 'invalid',
      code,
      field,
    });
  });

  it('refuses arguments that have no canonical form, naming the path (a JSON pointer)', () => {
    const r = sent();
    r.arguments = { n: Number.NaN } as never;
    expect(problem(() => prepareGateRequest(r, agent, 'p', rules))).toMatchObject({
      code: 'invalid_value',
      field: 'arguments/n',
    });
  });

  it('requires a request proof by the key the token is bound to, over this very request', () => {
    const r = sent();
    expect(problem(() => prepareGateRequest(r, agent, undefined, rules))).toMatchObject({
      code: 'missing_field',
      field: 'requestProof',
    });
    expect(problem(() => prepareGateRequest(r, agent, proofOf(r, newProofKey()), rules))).toMatchObject({
      code: 'invalid_value',
      field: 'requestProof',
    });
    expect(problem(() => prepareGateRequest(sent({ action: 'delete' }), agent, proofOf(r), rules))).toMatchObject({
      code: 'invalid_value',
      field: 'requestProof',
    });
    const both = { ...r, requestProof: proofOf(r) };
    expect(problem(() => prepareGateRequest(both, agent, proofOf(sent({ requestId: 'r-2' })), rules))).toMatchObject({
      code: 'invalid_value',
      field: 'requestProof',
    });
  });

  it('does not change the request it was given', () => {
    const r = sent();
    prepareGateRequest(r, agent, proofOf(r), rules);
    expect({ tenantId: r.tenantId, token: r.agentToken, proof: r.requestProof }).toEqual({
      tenantId: '',
      token: '',
      proof: '',
    });
  });
});

describe('requestToProve', () => {
  it('is the request with defaults, digest and token: what the client signs and the gateway checks', () => {
    const r = create(GateRequestedSchema, { ...sent(), tenantId: 'acme', agentId: 'bot' });
    const p = requestToProve(r, 'tok');
    expect(p).toMatchObject({ stepId: 'r-1', attempt: 1, idempotencyKey: 'run-1:r-1', agentToken: 'tok' });
    expect(p.argumentsDigest).toMatch(/^sha256:/);
  });
});

describe('prepareOutcome (what the gateway publishes to gate.outcomes)', () => {
  const outcome = (over: Record<string, unknown> = {}): StepCompleted =>
    create(StepCompletedSchema, { requestId: 'r-1', runId: 'run-1', stepId: 'r-1', completedAtMs: T0, ...over });
  const proved = (o: StepCompleted, k = key) => outcomeProof({ ...o, tenantId: 'acme', agentId: 'bot' }, k);

  it("fills in the token's ids and takes the proof from the header or outcomeProof", () => {
    const o = outcome();
    expect(prepareOutcome(o, agent, proved(o))).toMatchObject({
      tenantId: 'acme',
      agentId: 'bot',
      outcomeProof: proved(o),
    });
    expect(prepareOutcome({ ...o, outcomeProof: proved(o) }, agent, undefined).outcomeProof).toBe(proved(o));
    expect(o.tenantId).toBe('');
  });

  it("refuses an outcome of another agent (403), a bad field, or a proof that is missing, another key's or of another outcome", () => {
    const o = outcome();
    expect(problem(() => prepareOutcome(outcome({ agentId: 'eve' }), agent, proved(o)))).toMatchObject({
      kind: 'forbidden',
      code: 'wrong_agent',
    });
    expect(problem(() => prepareOutcome(outcome({ actualTokens: -1 }), agent, proved(o)))).toMatchObject({
      code: 'invalid_value',
      field: 'actualTokens',
    });
    expect(problem(() => prepareOutcome(o, agent, undefined))).toMatchObject({ field: 'outcomeProof' });
    expect(problem(() => prepareOutcome(o, agent, proved(o, newProofKey())))).toMatchObject({ field: 'outcomeProof' });
    expect(problem(() => prepareOutcome(outcome({ actualTokens: 5 }), agent, proved(o)))).toMatchObject({
      code: 'invalid_value',
      field: 'outcomeProof',
    });
    expect(problem(() => prepareOutcome({ ...o, outcomeProof: 'a' }, agent, 'b'))).toMatchObject({
      field: 'outcomeProof',
    });
  });
});
