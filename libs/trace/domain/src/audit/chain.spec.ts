import {
  AuditRecorded,
  create,
  DecisionContextSchema,
  EvaluationSchema,
  GateDecidedSchema,
  Verdict,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { auditChain, ChainDecision, ChainLink, decisionDigest, linkHash } from './chain';
import { compareChains, verifyChain } from './verify';

const decision = (n: number, verdict = Verdict.ALLOW) =>
  create(GateDecidedSchema, {
    decisionId: `d-${n}`,
    requestId: `r-${n}`,
    tenantId: 'acme',
    agentId: 'bot',
    runId: `run-${n % 2}`,
    verdict,
    reason: 'because',
    decidedAtMs: 1_000 + n,
    context: create(DecisionContextSchema, {
      evaluations: [create(EvaluationSchema, { policyId: 'warden.registry', version: 'builtin-2', result: 'pass' })],
    }),
  });
const chain = (n: number, partition = 0, offset = n): ChainDecision => ({
  type: 'ChainDecision',
  tenantId: 'acme',
  decision: decision(n),
  sourcePartition: partition,
  sourceOffset: offset,
});
const links = (count: number): AuditRecorded[] => {
  let state = auditChain.initialState;
  const out: AuditRecorded[] = [];
  for (let i = 1; i <= count; i++) {
    const [e] = auditChain.decide(chain(i, i % 3, i), state);
    state = auditChain.evolve(state, e);
    out.push(e);
  }
  return out;
};

describe('audit chain decider', () => {
  it('numbers a tenant decisions without gaps and links each to the previous hash', () => {
    const [first] = given(auditChain, []).when(chain(1)).thenEvents();
    expect(first).toMatchObject({
      tenantId: 'acme',
      seq: 1,
      decisionId: 'd-1',
      verdict: 'allow',
      prevHash: '',
      source: 'gate.decisions:0:1',
      policies: [{ policyId: 'warden.registry', version: 'builtin-2', result: 'pass' }],
      decisionSha256: decisionDigest(decision(1)),
    });
    expect(first.hash).toBe(linkHash(first));
    const [second] = given(auditChain, [first])
      .when(chain(2, 1, 0))
      .thenEvents();
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash, source: 'gate.decisions:1:0' });
  });

  it('skips a decision already chained from its partition (the forwarder redelivers)', () => {
    const [first] = given(auditChain, [])
      .when(chain(1, 2, 5))
      .thenEvents();
    given(auditChain, [first])
      .when(chain(1, 2, 5))
      .then([]);
    given(auditChain, [first])
      .when(chain(9, 2, 4))
      .then([]);
    expect(
      given(auditChain, [first])
        .when(chain(3, 1, 4))
        .thenEvents(),
    ).toHaveLength(1);
  });

  it('evolve ignores records that are not the next link', () => {
    const [a, b] = links(2);
    const state = auditChain.evolve(auditChain.initialState, a);
    expect(auditChain.evolve(state, a)).toBe(state);
    expect(auditChain.evolve(auditChain.initialState, b)).toBe(auditChain.initialState);
  });
});

describe('chain verification', () => {
  it('accepts an intact chain and names its head', () => {
    const all = links(5);
    expect(verifyChain('acme', all)).toEqual({
      tenantId: 'acme',
      ok: true,
      records: 5,
      head: { seq: 5, hash: all[4].hash },
      problem: null,
    });
    expect(verifyChain('acme', [])).toMatchObject({ ok: true, head: null });
  });

  it('finds an altered record', () => {
    const all = links(5);
    all[2] = { ...all[2], verdict: 'deny' };
    expect(verifyChain('acme', all)).toMatchObject({
      ok: false,
      head: { seq: 2 },
      problem: { kind: 'altered', seq: 3, decisionId: 'd-3' },
    });
  });

  it('finds a missing record, in the middle or the first', () => {
    const all = links(5);
    expect(verifyChain('acme', [...all.slice(0, 2), ...all.slice(3)]).problem).toMatchObject({
      kind: 'missing',
      seq: 3,
      detail: 'record 3 missing before 4',
    });
    expect(verifyChain('acme', all.slice(1)).problem).toMatchObject({ kind: 'missing', seq: 1 });
  });

  it('finds reordered records', () => {
    const all = links(4);
    expect(verifyChain('acme', [all[0], all[2], all[1], all[3]]).problem).toMatchObject({ kind: 'missing', seq: 2 });
    expect(verifyChain('acme', [all[0], all[1], all[1]]).problem).toMatchObject({ kind: 'reordered', seq: 2 });
    // A record moved to another position and re-hashed: its link to the predecessor breaks.
    const moved: ChainLink = { ...all[1], seq: 3, prevHash: all[0].hash };
    const rehashed = { ...moved, hash: linkHash(moved) };
    expect(verifyChain('acme', [all[0], { ...all[2], seq: 2, hash: '' }])).toMatchObject({
      problem: { kind: 'altered', seq: 2 },
    });
    expect(verifyChain('acme', [all[0], all[1], rehashed]).problem).toMatchObject({ kind: 'reordered', seq: 3 });
  });

  it('finds a copy that diverges from the source or misses its tail', () => {
    const all = links(4);
    expect(compareChains('acme', all, all)).toBeNull();
    expect(compareChains('acme', all.slice(0, 3), all)).toMatchObject({ kind: 'missing', seq: 4 });
    const other = links(4).map((l, i) => (i === 2 ? { ...l, hash: 'x' } : l));
    expect(compareChains('acme', other, all)).toMatchObject({ kind: 'diverged', seq: 3 });
  });
});
