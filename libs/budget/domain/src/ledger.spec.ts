import {
  ActionKind,
  Ask,
  AskSchema,
  BudgetDefined,
  BudgetDefinedSchema,
  BudgetReservationRefused,
  BudgetReserved,
  BudgetScope,
  create,
  Dimension,
  GateRequested,
  GateRequestedSchema,
  HoldReleaseRequestedSchema,
  HoldRequestedSchema,
  HoldSettlementRequestedSchema,
  LedgerHeld,
  Limit,
  LimitSchema,
  Threshold,
  Window,
} from '@warden/contracts';
import { fold, given } from '@warden/kernel';
import { BudgetDefinitionState } from './budget-definition';
import { CLOSED_RETENTION_MS, ledger, LedgerCommand, LedgerEvent, LedgerState } from './ledger';

const HOUR = 3_600_000;
const t0 = Date.UTC(2026, 10, 21, 10, 0, 0);
const TTL = 60_000;

const budget = (
  budgetId: string,
  scope: BudgetScope,
  subject: string,
  ...limits: Partial<Omit<Limit, '$typeName'>>[]
) =>
  create(BudgetDefinedSchema, {
    budgetId,
    tenantId: 'acme',
    scope,
    subject,
    name: budgetId,
    limits: limits.map((l) => create(LimitSchema, { window: Window.CALENDAR_DAY, ...l })),
  });
const definitions = (...budgets: BudgetDefined[]): BudgetDefinitionState => ({
  budgets: new Map(budgets.map((b) => [b.budgetId, b])),
  prices: [],
});
let defs = definitions();

const request = (requestId: string, over: Partial<Omit<GateRequested, '$typeName'>> = {}) =>
  create(GateRequestedSchema, {
    requestId,
    tenantId: 'acme',
    agentId: 'bot',
    runId: `run-${requestId}`,
    actionKind: ActionKind.MODEL_CALL,
    ...over,
  });
const ask = (over: Partial<Omit<Ask, '$typeName'>> = {}) => create(AskSchema, { tokens: 100, ...over });

const hold = (
  requestId: string,
  asked: Partial<Omit<Ask, '$typeName'>> = {},
  over: { now?: number; req?: Partial<Omit<GateRequested, '$typeName'>>; killSwitchIds?: string[] } = {},
): LedgerCommand => ({
  type: 'HoldBudget',
  hold: create(HoldRequestedSchema, {
    reservationId: `res-${requestId}`,
    request: request(requestId, over.req),
    ask: ask(asked),
    requestedAtMs: over.now ?? t0,
    expiresAtMs: (over.now ?? t0) + TTL,
    runTokensUsed: 100,
    runTokensLimit: 1000,
  }),
  definitions: defs,
  defaults: { tokens: 0, toolCalls: 0 },
  killSwitchIds: over.killSwitchIds ?? [],
  now: over.now ?? t0,
});
const ids = (requestId: string) => ({
  reservationId: `res-${requestId}`,
  tenantId: 'acme',
  runId: `run-${requestId}`,
  requestId,
});
const settle = (requestId: string, tokens: number, now = t0 + 10): LedgerCommand => ({
  type: 'SettleHold',
  settlement: create(HoldSettlementRequestedSchema, { ...ids(requestId), actual: ask({ tokens }), requestedAtMs: now }),
  definitions: defs,
  defaults: { tokens: 0, toolCalls: 0 },
  now,
});
const release = (requestId: string, now = t0 + 10): LedgerCommand => ({
  type: 'ReleaseHold',
  release: create(HoldReleaseRequestedSchema, {
    ...ids(requestId),
    reason: 'step failed: boom',
    charged: ask({ tokens: 0 }),
    requestedAtMs: now,
  }),
  now,
});

function play(cmds: readonly LedgerCommand[], from: LedgerState = ledger.initialState) {
  let state = from;
  const events: LedgerEvent[][] = [];
  for (const cmd of cmds) {
    const out = ledger.decide(cmd, state);
    state = fold(ledger.evolve, state, out);
    events.push([...out]);
  }
  return { state, events, last: events.at(-1) ?? [] };
}
const answerOf = (events: readonly LedgerEvent[]) =>
  events.find(
    (e) =>
      e.$typeName === 'warden.budget.v1.BudgetReserved' || e.$typeName === 'warden.budget.v1.BudgetReservationRefused',
  ) as BudgetReserved | BudgetReservationRefused;
const refusalOf = (events: readonly LedgerEvent[]) => answerOf(events) as BudgetReservationRefused;
const granted = (events: readonly LedgerEvent[]) => answerOf(events).$typeName === 'warden.budget.v1.BudgetReserved';

beforeEach(() => {
  defs = definitions();
});

describe('ledger decider (cross-run budgets of a tenant)', () => {
  it('agent scope: requests of many runs share the agent budget exactly; another agent has its own', () => {
    defs = definitions(budget('agents', BudgetScope.AGENT, '', { dimension: Dimension.TOKENS, limit: 250 }));
    const { events } = play([
      hold('a'),
      hold('b'),
      hold('c', { tokens: 51 }),
      hold('d', { tokens: 50 }),
      hold('e', {}, { req: { agentId: 'helper' } }),
    ]);
    expect(events.map(granted)).toEqual([true, true, false, true, true]);
    expect(answerOf(events[2])).toMatchObject({
      fromLedger: true,
      dimension: Dimension.TOKENS,
      budgetId: 'agents',
      reason: 'agent daily tokens budget exceeded: 200 used or held + 51 requested > limit 250',
    });
  });

  it('answers for the run stage: the ledger answer merges the run outcome and goes with a LedgerHeld', () => {
    defs = definitions(
      budget('tenant', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 1000, degradeAtPercent: 80 }),
    );
    const cmd = hold('a', { tokens: 820 });
    if (cmd.type !== 'HoldBudget') throw new Error('hold');
    const withRun: LedgerCommand = {
      ...cmd,
      hold: create(HoldRequestedSchema, {
        ...cmd.hold,
        approvalRequired: true,
        approvalReason: 'risk points at 96% of run budget',
        degradeHints: ['make fewer tool calls: tool calls at 90% of run budget'],
      }),
    };
    const [held, answer, crossing] = play([withRun]).last as [LedgerHeld, BudgetReserved, LedgerEvent];
    expect(answer).toMatchObject({
      reservationId: 'res-a',
      fromLedger: true,
      reservedTokens: 820,
      runTokensUsed: 100,
      runTokensLimit: 1000,
      reservedAtMs: t0,
      expiresAtMs: t0 + TTL,
      approvalRequired: true,
      approvalReason: 'risk points at 96% of run budget',
      degradeHints: [
        'make fewer tool calls: tool calls at 90% of run budget',
        'use a cheaper model: tokens at 82% of tenant daily budget',
      ],
      charges: [],
    });
    expect(held).toMatchObject({
      $typeName: 'warden.budget.v1.LedgerHeld',
      charges: [{ budgetId: 'tenant', meter: 'tenant', held: 820 }],
      answer,
    });
    expect(crossing).toMatchObject({ threshold: Threshold.DEGRADE, meter: 'tenant', usage: 820 });
  });

  it('the degrade hint names the agent daily budget', () => {
    defs = definitions(
      budget('bot', BudgetScope.AGENT, 'bot', { dimension: Dimension.TOKENS, limit: 1000, degradeAtPercent: 80 }),
    );
    expect(answerOf(play([hold('a', { tokens: 820 })]).last)).toMatchObject({
      degradeHints: ['use a cheaper model: tokens at 82% of agent daily budget'],
    });
  });

  it('all or nothing: when the tenant budget refuses, nothing is held on the agent budget', () => {
    defs = definitions(
      budget('agent', BudgetScope.AGENT, 'bot', { dimension: Dimension.TOKENS, limit: 1000 }),
      budget('tenant', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 150 }),
    );
    const { state, events } = play([hold('a', { tokens: 100 }), hold('b', { tokens: 100 })]);
    expect(events.map(granted)).toEqual([true, false]);
    expect(events[1].map((e) => e.$typeName)).toEqual([
      'warden.budget.v1.LedgerRefused',
      'warden.budget.v1.BudgetReservationRefused',
    ]);
    defs = definitions(budget('agent', BudgetScope.AGENT, 'bot', { dimension: Dimension.TOKENS, limit: 1000 }));
    expect(granted(play([hold('c', { tokens: 900 })], state).last)).toBe(true);
  });

  it('tool scope over time: tool calls of a tool across all runs and agents of the tenant', () => {
    defs = definitions(
      budget('crm', BudgetScope.TOOL, 'crm', {
        dimension: Dimension.TOOL_CALLS,
        limit: 2,
        window: Window.CALENDAR_HOUR,
      }),
    );
    const call = (id: string, agentId: string) =>
      hold(id, { toolCalls: 1 }, { req: { actionKind: ActionKind.TOOL_CALL, tool: 'crm', agentId } });
    const { events } = play([
      call('a', 'bot'),
      call('b', 'helper'),
      call('c', 'other'),
      hold('d', { toolCalls: 1 }, { req: { actionKind: ActionKind.TOOL_CALL, tool: 'search' } }),
    ]);
    expect(events.map(granted)).toEqual([true, true, false, true]);
    expect(refusalOf(events[2]).reason).toBe(
      'tool crm hourly tool calls budget exceeded: 2 used or held + 1 requested > limit 2',
    );
  });

  it('calendar windows start over: what today used does not count tomorrow', () => {
    defs = definitions(budget('day', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 100 }));
    const midnight = Date.UTC(2026, 10, 22);
    const { events } = play([
      hold('a', {}, { now: midnight - 1000 }),
      settle('a', 100, midnight - 500),
      hold('b', { tokens: 1 }, { now: midnight - 1 }),
      hold('c', {}, { now: midnight }),
    ]);
    expect([granted(events[0]), granted(events[2]), granted(events[3])]).toEqual([true, false, true]);
  });

  it('rolling windows keep usage for at least their length, and let it go after one more slot', () => {
    defs = definitions(
      budget('hour', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 100, window: Window.ROLLING_HOUR }),
    );
    const at = (now: number) => hold(`r${now}`, { tokens: 1 }, { now });
    const { state } = play([hold('a', {}, { now: t0 }), settle('a', 100, t0 + 1)]);
    expect(granted(play([at(t0 + HOUR)], state).last)).toBe(false);
    expect(granted(play([at(t0 + HOUR + 59_999)], state).last)).toBe(false);
    expect(granted(play([at(t0 + HOUR + 60_000)], state).last)).toBe(true);
  });

  it('monthly spend of the tenant, in its currency', () => {
    defs = definitions(
      budget('spend', BudgetScope.TENANT, '', {
        dimension: Dimension.SPEND,
        limit: 10_000_000,
        currency: 'EUR',
        window: Window.CALENDAR_MONTH,
        askAtPercent: 90,
      }),
    );
    const spend = (id: string, micros: number, currency = 'EUR') => hold(id, { spendMicros: micros, currency });
    const { events } = play([spend('a', 8_000_000), spend('b', 1_500_000), spend('c', 600_000), spend('d', 1, 'USD')]);
    expect(events.map(granted)).toEqual([true, true, false, false]);
    expect(answerOf(events[1])).toMatchObject({
      approvalRequired: true,
      approvalReason: 'spend at 95% of tenant monthly budget spend (ask at 90%)',
      reservedCost: { currency: 'EUR', micros: 1_500_000 },
    });
  });

  it('scope of an agent per day: distinct tools it touched across its runs', () => {
    defs = definitions(budget('scope', BudgetScope.AGENT, 'bot', { dimension: Dimension.SCOPE, limit: 1 }));
    const touch = (id: string, tool: string) =>
      hold(id, { resource: `tool:${tool}` }, { req: { actionKind: ActionKind.TOOL_CALL, tool } });
    expect(play([touch('a', 'crm'), touch('b', 'crm'), touch('c', 'mail')]).events.map(granted)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('settles to the actual use and releases, once; a duplicate request gets the same answer and no second hold', () => {
    defs = definitions(budget('tenant', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 300 }));
    const { state, events } = play([
      hold('a', { tokens: 200 }),
      hold('a', { tokens: 200 }),
      settle('a', 120),
      settle('a', 999),
      hold('b', { tokens: 180 }),
    ]);
    expect(events[1]).toEqual([events[0][1]]);
    expect(events[2][0]).toMatchObject({
      $typeName: 'warden.budget.v1.LedgerSettled',
      charges: [{ held: -200, used: 120 }],
    });
    expect(events[3]).toEqual([]);
    expect(granted(events[4])).toBe(true);
    expect(granted(play([hold('c', { tokens: 1 })], state).last)).toBe(false);
    const released = play([hold('x', { tokens: 300 }), release('x'), hold('y', { tokens: 300 })]);
    expect(released.events[1][0]).toMatchObject({
      $typeName: 'warden.budget.v1.LedgerReleased',
      reason: 'step failed: boom',
    });
    expect(granted(released.last)).toBe(true);
  });

  it('expires stale holds on its own, so a crashed run cannot keep tenant budget; a late settlement still counts', () => {
    defs = definitions(budget('tenant', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 100 }));
    const { state, last } = play([hold('a', { tokens: 100 }), hold('b', { tokens: 100 }, { now: t0 + TTL })]);
    expect(last[0]).toMatchObject({
      $typeName: 'warden.budget.v1.LedgerReleased',
      reservationId: 'res-a',
      expired: true,
    });
    expect(granted(last)).toBe(true);
    const late = play([settle('a', 40, t0 + TTL + 1)], state);
    expect(late.last[0]).toMatchObject({ late: true, charges: [{ held: 0, used: 40 }] });
  });

  it('a killed scope gets nothing from the ledger either', () => {
    defs = definitions(budget('tenant', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 100 }));
    expect(answerOf(play([hold('a', {}, { killSwitchIds: ['ks-1'] })]).last)).toMatchObject({
      dimension: Dimension.SCOPE,
      reason: 'kill switch ks-1 engaged: no budget',
      fromLedger: true,
    });
  });

  it('forgets closed holds after their retention, by the time of later events', () => {
    defs = definitions(budget('tenant', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 1000 }));
    const { state } = play([hold('a'), settle('a', 10), hold('b', {}, { now: t0 + CLOSED_RETENTION_MS + 10 })]);
    expect(state.holds.has('res-a')).toBe(false);
    expect(state.holds.has('res-b')).toBe(true);
    const kept = play([hold('a'), settle('a', 10), hold('b', {}, { now: t0 + CLOSED_RETENTION_MS })]).state;
    expect(kept.holds.get('res-a')?.status).toBe('settled');
  });

  it('numbers its charge events 1, 2, ... so readers can skip a duplicated record', () => {
    defs = definitions(budget('tenant', BudgetScope.TENANT, '', { dimension: Dimension.TOKENS, limit: 1000 }));
    const { events } = play([hold('a'), hold('b'), settle('a', 5), hold('c', {}, { now: t0 + TTL })]);
    const seqs = events.flat().flatMap((e) => ('seq' in e ? [[e.$typeName.split('.').at(-1), e.seq]] : []));
    expect(seqs).toEqual([
      ['LedgerHeld', 1],
      ['LedgerHeld', 2],
      ['LedgerSettled', 3],
      ['LedgerReleased', 4],
      ['LedgerHeld', 5],
    ]);
  });

  it('rejects a hold request without a request', () => {
    const cmd = hold('a');
    if (cmd.type !== 'HoldBudget') throw new Error('hold');
    given(ledger)
      .when({ ...cmd, hold: create(HoldRequestedSchema, { reservationId: 'x' }) })
      .thenThrows('invalid', 'request_required');
  });
});
