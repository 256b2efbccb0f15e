import { create, RunHaltedSchema, Topic, Verdict } from '@warden/contracts';
import {
  decided,
  envelope,
  fold,
  foldInPlace,
  fullChain,
  interleave,
  random,
  released,
  request,
  settled,
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
/** The budget stage settled the request's hold to what the agent reported it used. */
const completed = (requestId: string, tokens: number, micros: number, at: number): Sourced => ({
  topic: Topic.budgetReservations,
  event: envelope(settled(request(requestId), at, tokens, micros), at),
});
/** The budget stage released the request's hold: by a decision, or (`failed`) by the agent's failure report. */
const release = (requestId: string, at: number, failed?: { tokens: number; micros: number }): Sourced => ({
  topic: Topic.budgetReservations,
  event: envelope(released(request(requestId), at, failed), at),
});

/**
 * r1 pending then allowed and completed; r2 denied (twice) and released; r3 still pending; r4
 * expired and released; r6 allowed and failed, its release delivered twice; r5 already completed.
 */
const run: Sourced[] = [
  ...fullChain('r1'),
  decision('r2', Verdict.DENY, T0 + 11),
  decision('r2', Verdict.DENY, T0 + 11),
  release('r2', T0 + 12),
  decision('r3', Verdict.PENDING_APPROVAL, T0 + 21),
  decision('r4', Verdict.EXPIRED, T0 + 30),
  release('r4', T0 + 31),
  decision('r6', Verdict.ALLOW, T0 + 35),
  decision('r5', Verdict.ALREADY_COMPLETED, T0 + 41),
  release('r6', T0 + 50, { tokens: 100, micros: 5 }),
  release('r6', T0 + 51, { tokens: 100, micros: 5 }),
];

describe('trace.runs projection', () => {
  it('counts requests once each, under the verdict they keep', () => {
    expect(project(run)).toMatchObject({
      id: runKey('acme', 'bot', 'run-1'),
      tenant_id: 'acme',
      agent_id: 'bot',
      run_id: 'run-1',
      // The run's first event trace reads: r1's pending decision.
      first_seen_at: new Date(T0 + 2).toISOString(),
      last_seen_at: new Date(T0 + 51).toISOString(),
      requests: 6,
      allowed: 2,
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

  it("counts what a step used from its settlement or its failure's release, once; a decision's release used nothing", () => {
    const row = project(run)!;
    expect(row.request_states).toMatchObject({
      r1: { verdict: 'allow', tokens: 7, costMicros: 1200 },
      r6: { verdict: 'allow', tokens: 100, costMicros: 5 },
    });
    for (const id of ['r2', 'r4']) {
      expect(row.request_states[id]).not.toHaveProperty('tokens');
      expect(row.request_states[id]).not.toHaveProperty('costMicros');
    }
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

  it('sums a capped huge use exactly in any order, however often its request is seen again', () => {
    // 7 + (2^53 - 1) is exact; (total + huge) - huge, for a request seen again, is not.
    const huge: Sourced[] = [
      decision('r1', Verdict.ALLOW, T0),
      completed('r1', 7, 0, T0 + 1),
      decision('big', Verdict.ALLOW, T0 + 2),
      completed('big', 1e300, 0, T0 + 3),
      decision('big', Verdict.ALLOW, T0 + 4),
    ];
    const next = random(11);
    for (let i = 0; i < 50; i++)
      expect(project(interleave(huge, next))).toMatchObject({ allowed: 2, tokens: 7 + Number.MAX_SAFE_INTEGER });
  });

  it('breaks ties of the last decision by request id, whatever the order', () => {
    const a = decision('ra', Verdict.ALLOW, T0);
    const b = decision('rb', Verdict.DENY, T0);
    expect(project([a, b])).toMatchObject({ last_verdict: 'deny', last_request_id: 'rb' });
    expect(project([b, a])).toMatchObject({ last_verdict: 'deny', last_request_id: 'rb' });
  });

  it('keeps runs of the same id apart per tenant and agent, and skips events without run or request', () => {
    const other = request('r9', { agentId: 'other-bot' });
    for (const data of [decided(other, Verdict.ALLOW, T0), settled(other, T0), released(other, T0)]) {
      expect(runsProjection.rowId(envelope(data, T0))).toBe(runKey('acme', 'other-bot', 'run-1'));
    }
    expect(runsProjection.rowId(completed('r1', 1, 1, T0).event)).toBe(runKey('acme', 'bot', 'run-1'));
    for (const skipped of [request('r9', { runId: '' }), request('')]) {
      expect(runsProjection.rowId(envelope(decided(skipped, Verdict.ALLOW, T0), T0))).toBeUndefined();
      expect(runsProjection.rowId(envelope(settled(skipped, T0), T0))).toBeUndefined();
    }
  });

  it('survives a request id that is also an Object.prototype key', () => {
    const events = [
      completed('__proto__', 3, 1, T0),
      decision('constructor', Verdict.DENY, T0),
      decision('__proto__', Verdict.ALLOW, T0 + 1),
    ];
    expect(project(events)).toMatchObject({ requests: 2, allowed: 1, denied: 1, tokens: 3 });
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
