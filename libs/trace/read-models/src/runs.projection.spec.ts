import { create, MoneySchema, RunHaltedSchema, StepCompletedSchema, Topic, Verdict } from '@warden/contracts';
import {
  decided,
  envelope,
  fold,
  foldInPlace,
  fullChain,
  interleave,
  random,
  request,
  Sourced,
  T0,
} from './chain.fixtures';
import { runKey, RunRow, runsProjection } from './runs.projection';

const project = (events: readonly Sourced[]) =>
  fold<RunRow>(
    runsProjection.evolve,
    events.filter((e) => runsProjection.handles.includes(e.event.type)),
  );
const decision = (requestId: string, verdict: Verdict, at: number): Sourced => ({
  topic: Topic.gateDecisions,
  event: envelope(decided(request(requestId), verdict, at), at),
});
const asked = (requestId: string, at: number): Sourced => ({
  topic: Topic.gateRequests,
  event: envelope(request(requestId, { requestedAtMs: at }), at),
});
const completed = (requestId: string, tokens: number, micros: number, at: number): Sourced => ({
  topic: Topic.gateOutcomes,
  event: envelope(
    create(StepCompletedSchema, {
      requestId,
      tenantId: 'acme',
      agentId: 'bot',
      runId: 'run-1',
      actualTokens: tokens,
      actualCost: create(MoneySchema, { currency: 'USD', micros }),
    }),
    at,
  ),
});

/** r1 pending then allowed and completed; r2 denied (twice); r3 still pending; r4 expired; r5 already completed. */
const run: Sourced[] = [
  ...fullChain('r1'),
  asked('r2', T0 + 10),
  decision('r2', Verdict.DENY, T0 + 11),
  decision('r2', Verdict.DENY, T0 + 11),
  asked('r3', T0 + 20),
  decision('r3', Verdict.PENDING_APPROVAL, T0 + 21),
  decision('r4', Verdict.EXPIRED, T0 + 30),
  asked('r5', T0 + 40),
  decision('r5', Verdict.ALREADY_COMPLETED, T0 + 41),
  completed('r2', 100, 5, T0 + 50),
  completed('r2', 100, 5, T0 + 51),
];

describe('trace.runs projection', () => {
  it('counts requests once each, under the verdict they keep', () => {
    expect(project(run)).toMatchObject({
      id: runKey('acme', 'bot', 'run-1'),
      tenant_id: 'acme',
      agent_id: 'bot',
      run_id: 'run-1',
      first_seen_at: new Date(T0).toISOString(),
      last_seen_at: new Date(T0 + 51).toISOString(),
      requests: 5,
      allowed: 1,
      denied: 1,
      pending: 1,
      expired: 1,
      already_completed: 1,
      tokens: 107,
      cost_micros: 1205,
      last_verdict: 'already_completed',
      last_request_id: 'r5',
      last_decided_at: new Date(T0 + 41).toISOString(),
      halted: false,
    });
  });

  it('moves a request from pending to its final verdict', () => {
    expect(project([decision('r3', Verdict.PENDING_APPROVAL, T0)])).toMatchObject({ pending: 1, allowed: 0 });
    expect(
      project([decision('r3', Verdict.PENDING_APPROVAL, T0), decision('r3', Verdict.ALLOW, T0 + 1)]),
    ).toMatchObject({ requests: 1, pending: 0, allowed: 1, last_verdict: 'allow' });
  });

  it('builds the same row whatever the order in which the topics are read', () => {
    const expected = project(run);
    const next = random(7);
    for (let i = 0; i < 200; i++) expect(project(interleave(run, next))).toEqual(expected);
  });

  it('breaks ties of the last decision by request id, whatever the order', () => {
    const a = decision('ra', Verdict.ALLOW, T0);
    const b = decision('rb', Verdict.DENY, T0);
    expect(project([a, b])).toMatchObject({ last_verdict: 'deny', last_request_id: 'rb' });
    expect(project([b, a])).toMatchObject({ last_verdict: 'deny', last_request_id: 'rb' });
  });

  it('keeps runs of the same id apart per tenant and agent, and skips events without run or request', () => {
    const other = envelope(request('r9', { agentId: 'other-bot' }), T0);
    expect(runsProjection.rowId(other)).toBe(runKey('acme', 'other-bot', 'run-1'));
    expect(runsProjection.rowId(run[0].event)).toBe(runKey('acme', 'bot', 'run-1'));
    expect(runsProjection.rowId(envelope(request('r9', { runId: '' }), T0))).toBeUndefined();
    expect(runsProjection.rowId(envelope(request(''), T0))).toBeUndefined();
  });

  it('survives a request id that is also an Object.prototype key', () => {
    const events = [asked('__proto__', T0), asked('constructor', T0), decision('__proto__', Verdict.ALLOW, T0 + 1)];
    expect(project(events)).toMatchObject({ requests: 2, allowed: 1 });
    expect(foldInPlace(runsProjection.evolveInPlace!, events)).toEqual(project(events));
  });

  it('evolves a row in place (a bulk rebuild) into the row evolve makes, whatever the order', () => {
    const next = random(11);
    for (let i = 0; i < 200; i++) {
      const events = interleave(run, next).filter((e) => runsProjection.handles.includes(e.event.type));
      expect(foldInPlace(runsProjection.evolveInPlace!, events, 1 + (i % 5))).toEqual(project(events));
    }
  });
});

describe('trace.runs projection: halted runs', () => {
  it('marks a run halted by RunHalted, whether or not it was seen before, and counts nothing for it', () => {
    const halted: Sourced = {
      topic: Topic.killswitchEvents,
      event: envelope(
        create(RunHaltedSchema, { runId: 'run-1', tenantId: 'acme', agentId: 'bot', switchId: 'ks-1' }),
        T0 + 100,
      ),
    };
    expect(project([...fullChain('r1'), halted])).toMatchObject({ halted: true, requests: 1, allowed: 1 });
    expect(project([halted, ...fullChain('r1')])).toMatchObject({ halted: true, requests: 1, allowed: 1 });
    expect(runsProjection.rowId(halted.event)).toBe(runKey('acme', 'bot', 'run-1'));
  });
});
