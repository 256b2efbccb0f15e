import {
  ActionKind,
  BudgetDefined,
  BudgetDefinedSchema,
  BudgetHeld,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetScope,
  BudgetSettled,
  BudgetThresholdCrossed,
  create,
  Dimension,
  GateRequested,
  GateRequestedSchema,
  HoldRequested,
  HoldRequestedSchema,
  Limit,
  LimitSchema,
  MoneySchema,
  PriceTableVersionPublishedSchema,
  ModelPriceSchema,
  Threshold,
  Window,
} from '@warden/contracts';
import { fold, given } from '@warden/kernel';
import { BudgetDefinitionState } from './budget-definition';
import { RunBudgetCommand, runBudget, RunBudgetEvent, RunBudgetState } from './run-budget';

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
    limits: limits.map((l) => create(LimitSchema, { window: Window.RUN, ...l })),
  });
const definitions = (...budgets: BudgetDefined[]): BudgetDefinitionState => ({
  budgets: new Map(budgets.map((b) => [b.budgetId, b])),
  prices: [],
});
const runTokens = (limit: number, over: Partial<Omit<Limit, '$typeName'>> = {}) =>
  budget('run-tokens', BudgetScope.RUN, '', { dimension: Dimension.TOKENS, limit, ...over });

const request = (requestId: string, over: Partial<Omit<GateRequested, '$typeName'>> = {}): GateRequested =>
  create(GateRequestedSchema, {
    requestId,
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    actionKind: ActionKind.MODEL_CALL,
    estimatedTokens: 100,
    attempt: 1,
    ...over,
  });
const tool = (requestId: string, name: string, over: Partial<Omit<GateRequested, '$typeName'>> = {}) =>
  request(requestId, { actionKind: ActionKind.TOOL_CALL, tool: name, action: 'read', estimatedTokens: 0, ...over });

type Reserve = Extract<RunBudgetCommand, { type: 'ReserveBudget' }>;
let defs = definitions();
const reserve = (req: GateRequested, over: Partial<Reserve> = {}): Reserve => ({
  type: 'ReserveBudget',
  request: req,
  reservationId: `res-${req.requestId}`,
  now: t0,
  definitions: defs,
  defaults: { tokens: 0, toolCalls: 0 },
  riskPoints: 0,
  killSwitchIds: [],
  ttlMs: TTL,
  ...over,
});
const settle = (requestId: string, actualTokens: number, now = t0 + 10): RunBudgetCommand => ({
  type: 'SettleBudget',
  requestId,
  actualTokens,
  actualCost: undefined,
  now,
  definitions: defs,
  defaults: { tokens: 0, toolCalls: 0 },
});
const release = (requestId: string, now = t0 + 10, chargedTokens = 0): RunBudgetCommand => ({
  type: 'ReleaseBudget',
  requestId,
  reason: 'decision deny: not allowed',
  chargedTokens,
  chargedCost: undefined,
  now,
  definitions: defs,
  defaults: { tokens: 0, toolCalls: 0 },
});

/** Runs commands one after another as the processor does (decide, then fold), returning every event. */
function play(cmds: readonly RunBudgetCommand[], from: RunBudgetState = runBudget.initialState) {
  let state = from;
  const events: RunBudgetEvent[][] = [];
  for (const cmd of cmds) {
    const out = runBudget.decide(cmd, state);
    state = fold(runBudget.evolve, state, out);
    events.push([...out]);
  }
  return { state, events, last: events.at(-1) ?? [], history: events.flat() };
}
const answerOf = (events: readonly RunBudgetEvent[]) =>
  events.find(
    (e) =>
      e.$typeName === 'warden.budget.v1.BudgetReserved' || e.$typeName === 'warden.budget.v1.BudgetReservationRefused',
  ) as BudgetReserved | BudgetReservationRefused;
const refusalOf = (events: readonly RunBudgetEvent[]) => answerOf(events) as BudgetReservationRefused;
const granted = (events: readonly RunBudgetEvent[]) => answerOf(events).$typeName === BudgetReservedSchema.typeName;

beforeEach(() => {
  defs = definitions();
});

describe('run budget decider (the run stage)', () => {
  describe('tokens, run scope', () => {
    it('given no use, when a request asks within the limit, then it is reserved with its charge', () => {
      defs = definitions(runTokens(1000));
      const req = request('r1');
      const [reserved] = given(runBudget).when(reserve(req)).thenEvents() as BudgetReserved[];
      expect(reserved).toMatchObject({
        reservationId: 'res-r1',
        reservedTokens: 100,
        reservedAtMs: t0,
        expiresAtMs: t0 + TTL,
        runTokensUsed: 100,
        runTokensLimit: 1000,
        approvalRequired: false,
        degradeHints: [],
        fromLedger: false,
        charges: [{ budgetId: 'run-tokens', dimension: Dimension.TOKENS, meter: 'run', held: 100, used: 0 }],
      });
    });

    it('counts open holds: reaching the limit exactly passes, one more token is refused naming the budget', () => {
      defs = definitions(runTokens(1000));
      const { state, history } = play([reserve(request('r1', { estimatedTokens: 600 }))]);
      expect(granted(runBudget.decide(reserve(request('r2', { estimatedTokens: 400 })), state))).toBe(true);
      given(runBudget, history)
        .when(reserve(request('r2', { estimatedTokens: 401 })))
        .then([
          create(BudgetReservationRefusedSchema, {
            reservationId: 'res-r2',
            request: request('r2', { estimatedTokens: 401 }),
            dimension: Dimension.TOKENS,
            reason: 'run tokens budget exceeded: 600 used or held + 401 requested > limit 1000',
            refusedAtMs: t0,
            budgetId: 'run-tokens',
          }),
        ]);
    });

    it('a limit of 0 allows nothing of the dimension, and requests that ask none of it', () => {
      defs = definitions(runTokens(0));
      expect(granted(play([reserve(request('r1', { estimatedTokens: 1 }))]).last)).toBe(false);
      expect(granted(play([reserve(request('r1', { estimatedTokens: 0 }))]).last)).toBe(true);
    });

    it("uses the service's defaults when the tenant has no run budget for the dimension", () => {
      const withDefaults = (req: GateRequested) => reserve(req, { defaults: { tokens: 150, toolCalls: 1 } });
      const { events } = play([withDefaults(request('r1')), withDefaults(request('r2'))]);
      expect(answerOf(events[1])).toMatchObject({ budgetId: 'default', dimension: Dimension.TOKENS });
      defs = definitions(runTokens(1000));
      expect(granted(play([withDefaults(request('r1')), withDefaults(request('r2'))]).last)).toBe(true);
    });

    it("a run budget for one agent's runs overrides the budget for every run", () => {
      defs = definitions(
        runTokens(100),
        budget('bot-runs', BudgetScope.RUN, 'bot', { dimension: Dimension.TOKENS, limit: 10_000 }),
      );
      expect(granted(play([reserve(request('r1', { estimatedTokens: 5000 }))]).last)).toBe(true);
      expect(granted(play([reserve(request('r1', { estimatedTokens: 5000, agentId: 'other' }))]).last)).toBe(false);
    });
  });

  describe('tool calls, retries and scope', () => {
    it('tool calls: each tool call counts one against the run; other actions count none', () => {
      defs = definitions(budget('calls', BudgetScope.RUN, '', { dimension: Dimension.TOOL_CALLS, limit: 2 }));
      const { events } = play([
        reserve(tool('t1', 'tickets')),
        reserve(tool('t2', 'search')),
        reserve(request('m1')),
        reserve(tool('t3', 'tickets')),
      ]);
      expect(events.map(granted)).toEqual([true, true, true, false]);
      expect(answerOf(events[3])).toMatchObject({
        dimension: Dimension.TOOL_CALLS,
        reason: 'run tool calls budget exceeded: 2 used or held + 1 requested > limit 2',
      });
    });

    it('tool calls per tool per run: one tool running out leaves the others', () => {
      defs = definitions(budget('tickets', BudgetScope.TOOL, 'tickets', { dimension: Dimension.TOOL_CALLS, limit: 1 }));
      const { events } = play([
        reserve(tool('t1', 'tickets')),
        reserve(tool('t2', 'tickets')),
        reserve(tool('s1', 'search')),
      ]);
      expect(events.map(granted)).toEqual([true, false, true]);
      expect(refusalOf(events[1]).reason).toBe(
        'tool tickets per-run tool calls budget exceeded: 1 used or held + 1 requested > limit 1',
      );
    });

    it('retries are budgeted per tool: retries of one tool do not use up another tool, first attempts never count', () => {
      defs = definitions(budget('retries', BudgetScope.TOOL, '', { dimension: Dimension.RETRIES, limit: 1 }));
      const { events } = play([
        reserve(tool('a1', 'tickets', { attempt: 1 })),
        reserve(tool('a2', 'tickets', { attempt: 2 })),
        reserve(tool('b1', 'search', { attempt: 2 })),
        reserve(tool('a3', 'tickets', { attempt: 3 })),
        reserve(tool('a4', 'tickets', { attempt: 1 })),
      ]);
      expect(events.map(granted)).toEqual([true, true, true, false, true]);
      expect(answerOf(events[3])).toMatchObject({
        dimension: Dimension.RETRIES,
        reason: 'tool tickets per-run retries budget exceeded: 1 used or held + 1 requested > limit 1',
      });
    });

    it('scope counts distinct tools and resources: touching one again is free, a released touch is given back', () => {
      defs = definitions(budget('scope', BudgetScope.RUN, '', { dimension: Dimension.SCOPE, limit: 2 }));
      const memory = request('m1', { actionKind: ActionKind.MEMORY_WRITE, memoryStore: 'notes', estimatedTokens: 0 });
      const { events, state } = play([
        reserve(tool('t1', 'tickets')),
        reserve(memory),
        reserve(tool('t2', 'tickets')),
        reserve(tool('s1', 'search')),
      ]);
      expect(events.map(granted)).toEqual([true, true, true, false]);
      expect(refusalOf(events[3]).reason).toBe('run scope budget exceeded: 2 used or held + 1 requested > limit 2');
      expect(
        answerOf(events[2]).$typeName === BudgetReservedSchema.typeName &&
          (answerOf(events[2]) as BudgetReserved).charges,
      ).toMatchObject([{ held: 0, resource: 'tool:tickets' }]);
      // The memory touch is released: a new resource fits again; tickets is still held by t1 and t2.
      const after = play([release('m1'), reserve(tool('s2', 'search'))], state);
      expect(granted(after.last)).toBe(true);
      const afterTickets = play([release('t1'), reserve(tool('x1', 'crm'))], state);
      expect(granted(afterTickets.last)).toBe(false);
    });

    it('a settled touch stays in scope; settling another touch of the same resource changes nothing', () => {
      defs = definitions(budget('scope', BudgetScope.RUN, '', { dimension: Dimension.SCOPE, limit: 1 }));
      const { events, state } = play([
        reserve(tool('t1', 'tickets')),
        reserve(tool('t2', 'tickets')),
        settle('t1', 0),
        settle('t2', 0),
      ]);
      expect((events[2][0] as BudgetSettled).charges).toMatchObject([{ held: -1, used: 1 }]);
      expect((events[3][0] as BudgetSettled).charges).toMatchObject([{ held: 0, used: 0 }]);
      expect(granted(play([reserve(tool('t3', 'tickets')), reserve(tool('s1', 'search'))], state).events[1])).toBe(
        false,
      );
    });
  });

  describe('time, spend and risk', () => {
    it('time: wall clock since the run began; the request at the limit passes, one after is refused', () => {
      defs = definitions(
        budget('time', BudgetScope.RUN, '', { dimension: Dimension.TIME, limit: 60_000, degradeAtPercent: 80 }),
      );
      const { events } = play([
        reserve(request('r1')),
        reserve(request('r2'), { now: t0 + 30_000 }),
        reserve(request('r3'), { now: t0 + 50_000 }),
        reserve(request('r4'), { now: t0 + 60_000 }),
        reserve(request('r5'), { now: t0 + 60_001 }),
      ]);
      expect(events.map(granted)).toEqual([true, true, true, true, false]);
      expect((answerOf(events[2]) as BudgetReserved).degradeHints).toEqual([
        'wrap up the run: run time at 83% of run budget',
      ]);
      expect(answerOf(events[4])).toMatchObject({
        dimension: Dimension.TIME,
        reason: 'run run time budget exceeded: 60001 ms elapsed > limit 60000 ms',
      });
    });

    it('time counts from the first answer of the run, refused or not', () => {
      defs = definitions(
        runTokens(10),
        budget('time', BudgetScope.RUN, '', { dimension: Dimension.TIME, limit: 1000 }),
      );
      const { events } = play([
        reserve(request('r1', { estimatedTokens: 50 })),
        reserve(request('r2', { estimatedTokens: 1 }), { now: t0 + 1001 }),
      ]);
      expect(events.map(granted)).toEqual([false, false]);
      expect(refusalOf(events[1]).dimension).toBe(Dimension.TIME);
    });

    it('spend: the estimated cost counts in its currency; another currency cannot count', () => {
      defs = definitions(
        budget('spend', BudgetScope.RUN, '', { dimension: Dimension.SPEND, limit: 5000, currency: 'USD' }),
      );
      const cost = (currency: string, micros: number) => ({ estimatedCost: create(MoneySchema, { currency, micros }) });
      const { events } = play([
        reserve(request('r1', cost('USD', 3000))),
        reserve(request('r2', cost('USD', 2001))),
        reserve(request('r3', cost('EUR', 1))),
        reserve(request('r4', cost('USD', 2000))),
      ]);
      expect(events.map(granted)).toEqual([true, false, false, true]);
      expect(answerOf(events[0])).toMatchObject({ reservedCost: { currency: 'USD', micros: 3000 } });
      expect(refusalOf(events[2]).reason).toBe('spend estimate in EUR cannot count against budget spend in USD');
    });

    it("spend: without an estimated cost, the tokens at the model's price in the latest table version", () => {
      defs = {
        ...definitions(
          budget('spend', BudgetScope.RUN, '', { dimension: Dimension.SPEND, limit: 1000, currency: 'USD' }),
        ),
        prices: [1, 2].map((version) =>
          create(PriceTableVersionPublishedSchema, {
            tenantId: 'acme',
            version,
            currency: 'USD',
            prices: [
              create(ModelPriceSchema, {
                model: 'big',
                inputMicrosPer1k: 100 * version,
                outputMicrosPer1k: 400 * version,
              }),
            ],
          }),
        ),
      };
      const [reserved] = play([reserve(request('r1', { model: 'big', estimatedTokens: 1000 }))])
        .last as BudgetReserved[];
      // 1,000 tokens at the dearer (output) price of version 2: 800 micros.
      expect(reserved).toMatchObject({ reservedCost: { currency: 'USD', micros: 800 }, priceTableVersion: 2 });
      expect(granted(play([reserve(request('r1', { model: 'big', estimatedTokens: 1300 }))]).last)).toBe(false);
      // Settled at the same version's price: 500 actual tokens cost 400 micros.
      const { last } = play([reserve(request('r1', { model: 'big', estimatedTokens: 1000 })), settle('r1', 500)]);
      expect((last[0] as BudgetSettled).actualCost).toMatchObject({ currency: 'USD', micros: 400 });
      expect((last[0] as BudgetSettled).charges).toMatchObject([{ held: -800, used: 400 }]);
    });

    it('risk: the risk points of the action count against the run', () => {
      defs = definitions(budget('risk', BudgetScope.RUN, '', { dimension: Dimension.RISK, limit: 20 }));
      const { events } = play([
        reserve(tool('t1', 'payments'), { riskPoints: 10 }),
        reserve(tool('t2', 'payments'), { riskPoints: 10 }),
        reserve(tool('t3', 'tickets'), { riskPoints: 1 }),
      ]);
      expect(events.map(granted)).toEqual([true, true, false]);
      expect(answerOf(events[0])).toMatchObject({ reservedRiskPoints: 10 });
      expect(refusalOf(events[2]).dimension).toBe(Dimension.RISK);
    });
  });

  describe('thresholds', () => {
    const limits = { degradeAtPercent: 80, askAtPercent: 95 };

    it('continue below degrade: no hint, no approval, no crossing', () => {
      defs = definitions(runTokens(1000, limits));
      const { last } = play([reserve(request('r1', { estimatedTokens: 799 }))]);
      expect(last).toHaveLength(1);
      expect(answerOf(last)).toMatchObject({ approvalRequired: false, degradeHints: [] });
    });

    it('degrade at 80 %: a hint, and a crossing event', () => {
      defs = definitions(runTokens(1000, limits));
      const { last } = play([reserve(request('r1', { estimatedTokens: 820 }))]);
      expect(answerOf(last)).toMatchObject({
        approvalRequired: false,
        degradeHints: ['use a cheaper model: tokens at 82% of run budget'],
      });
      expect(last[1] as BudgetThresholdCrossed).toMatchObject({
        $typeName: 'warden.budget.v1.BudgetThresholdCrossed',
        budgetId: 'run-tokens',
        threshold: Threshold.DEGRADE,
        usage: 820,
        limit: 1000,
        requestId: 'r1',
        runId: 'run-1',
        crossedAtMs: t0,
      });
    });

    it('ask at 95 %: the request needs approval, with the reason', () => {
      defs = definitions(runTokens(1000, limits));
      const { events } = play([
        reserve(request('r1', { estimatedTokens: 800 })),
        reserve(request('r2', { estimatedTokens: 160 })),
      ]);
      expect(answerOf(events[1])).toMatchObject({
        approvalRequired: true,
        approvalReason: 'tokens at 96% of run budget run-tokens (ask at 95%)',
        degradeHints: ['use a cheaper model: tokens at 96% of run budget'],
      });
      expect(events[1].filter((e) => e.$typeName === 'warden.budget.v1.BudgetThresholdCrossed')).toMatchObject([
        { threshold: Threshold.ASK },
      ]);
    });

    it('stop at 100 %: reaching it is a crossing; going past it is refused', () => {
      defs = definitions(runTokens(1000, limits));
      const { events } = play([
        reserve(request('r1', { estimatedTokens: 1000 })),
        reserve(request('r2', { estimatedTokens: 1 })),
      ]);
      expect(events[0].at(-1)).toMatchObject({ threshold: Threshold.STOP, usage: 1000 });
      expect(granted(events[1])).toBe(false);
      expect(events[1]).toHaveLength(1);
    });

    it('a request that asks none of a dimension is not held up by its threshold', () => {
      defs = definitions(runTokens(1000, limits));
      const { last } = play([reserve(request('r1', { estimatedTokens: 990 })), reserve(tool('t1', 'tickets'))]);
      expect(answerOf(last)).toMatchObject({ approvalRequired: false, degradeHints: [] });
    });
  });

  describe('reserve, settle, release', () => {
    beforeEach(() => {
      defs = definitions(runTokens(1000));
    });

    it('partial settlement gives the unused part back', () => {
      const { state, last } = play([reserve(request('r1', { estimatedTokens: 600 })), settle('r1', 250)]);
      expect(last[0]).toMatchObject({
        $typeName: 'warden.budget.v1.BudgetSettled',
        requestId: 'r1',
        actualTokens: 250,
        charges: [{ held: -600, used: 250 }],
        late: false,
      });
      expect(granted(play([reserve(request('r2', { estimatedTokens: 750 }))], state).last)).toBe(true);
      expect(granted(play([reserve(request('r2', { estimatedTokens: 751 }))], state).last)).toBe(false);
    });

    it('an overrun counts in full, and is a threshold crossing when it goes past the limit', () => {
      const { state, last } = play([reserve(request('r1', { estimatedTokens: 600 })), settle('r1', 1200)]);
      expect(last[1]).toMatchObject({ threshold: Threshold.STOP, usage: 1200 });
      expect(granted(play([reserve(request('r2', { estimatedTokens: 0 }))], state).last)).toBe(true);
      expect(granted(play([reserve(request('r2', { estimatedTokens: 1 }))], state).last)).toBe(false);
    });

    it('a release gives the whole hold back; a failed step is charged what it reported', () => {
      const released = play([reserve(request('r1', { estimatedTokens: 600 })), release('r1')]);
      expect(released.last[0]).toMatchObject({ charges: [{ held: -600, used: 0 }], chargedTokens: 0 });
      expect(granted(play([reserve(request('r2', { estimatedTokens: 1000 }))], released.state).last)).toBe(true);
      const failed = play([reserve(request('r1', { estimatedTokens: 600 })), release('r1', t0 + 10, 300)]);
      expect(failed.last[0]).toMatchObject({ charges: [{ held: -600, used: 300 }], chargedTokens: 300 });
      expect(granted(play([reserve(request('r2', { estimatedTokens: 701 }))], failed.state).last)).toBe(false);
    });

    it('settles or releases once: a second outcome, or an outcome for an unknown request, does nothing', () => {
      const { state } = play([reserve(request('r1')), settle('r1', 50)]);
      given(runBudget, []).when(settle('nope', 1)).then([]);
      expect(runBudget.decide(settle('r1', 70), state)).toEqual([]);
      expect(runBudget.decide(release('r1'), state)).toEqual([]);
    });

    it('rejects a negative actual token count (the processor dead-letters it)', () => {
      const { state } = play([reserve(request('r1'))]);
      expect(() => runBudget.decide(settle('r1', -1), state)).toThrow('actual tokens must be a non-negative number');
    });

    it('a stale hold expires with the next command after its time; a late outcome still counts', () => {
      const { state, last } = play([
        reserve(request('r1', { estimatedTokens: 600 })),
        reserve(request('r2', { estimatedTokens: 300 }), { now: t0 + TTL - 1 }),
        reserve(request('r3', { estimatedTokens: 600 }), { now: t0 + TTL + 1 }),
      ]);
      expect(last[0]).toMatchObject({
        $typeName: 'warden.budget.v1.BudgetReleased',
        requestId: 'r1',
        expired: true,
        charges: [{ held: -600 }],
      });
      expect(granted(last)).toBe(true);
      const late = play([settle('r1', 500, t0 + TTL + 2)], state);
      expect(late.last[0]).toMatchObject({ late: true, charges: [{ held: 0, used: 500 }] });
      expect(
        granted(play([reserve(request('r4', { estimatedTokens: 1 }), { now: t0 + TTL + 3 })], late.state).last),
      ).toBe(false);
    });

    it('a hold awaiting approval is kept past its time until the extension ends', () => {
      const extend: RunBudgetCommand = {
        type: 'ExtendHold',
        requestId: 'r1',
        expiresAt: t0 + 10 * TTL,
        reason: 'approval pending',
        now: t0 + 5,
        definitions: defs,
        defaults: { tokens: 0, toolCalls: 0 },
      };
      const { state, events } = play([reserve(request('r1', { estimatedTokens: 900 })), extend]);
      expect(events[1][0]).toMatchObject({
        $typeName: 'warden.budget.v1.BudgetHoldExtended',
        expiresAtMs: t0 + 10 * TTL,
      });
      expect(granted(play([reserve(request('r2', { estimatedTokens: 200 }), { now: t0 + 2 * TTL })], state).last)).toBe(
        false,
      );
      expect(
        granted(play([reserve(request('r2', { estimatedTokens: 200 }), { now: t0 + 10 * TTL + 1 })], state).last),
      ).toBe(true);
    });
  });

  describe('gate rules', () => {
    it('a killed scope has zero budget: refused naming the switch, nothing held', () => {
      defs = definitions(runTokens(1000));
      const req = request('r1', { deadlineMs: t0 - 1 });
      const { state, last } = play([reserve(req, { killSwitchIds: ['ks-9'] })]);
      expect(answerOf(last)).toMatchObject({
        dimension: Dimension.SCOPE,
        reason: 'kill switch ks-9 engaged: no budget',
      });
      expect(state.tokens).toEqual({ used: 0, held: 0 });
    });

    it('refuses a request past its deadline, and bad estimates', () => {
      expect(answerOf(play([reserve(request('r1', { deadlineMs: t0 - 1 }))]).last)).toMatchObject({
        dimension: Dimension.TIME,
        reason: 'deadline passed',
      });
      expect(granted(play([reserve(request('r1', { deadlineMs: t0 }))]).last)).toBe(true);
      expect(refusalOf(play([reserve(request('r1', { estimatedTokens: -5 }))]).last).dimension).toBe(Dimension.TOKENS);
    });

    it('answers a duplicate request id with the identical event and counts it once', () => {
      defs = definitions(runTokens(1000));
      const { events, state } = play([
        reserve(request('r1', { estimatedTokens: 600 })),
        reserve(request('r1', { estimatedTokens: 600 }), { reservationId: 'other' }),
      ]);
      expect(events[1]).toEqual([events[0][0]]);
      expect(state.tokens.held).toBe(600);
    });

    it('rejects a request without an id', () => {
      given(runBudget)
        .when(reserve(request('')))
        .thenThrows('invalid', 'request_id_required');
    });
  });

  describe('cross-run budgets: the hand-off to the tenant ledger', () => {
    beforeEach(() => {
      defs = definitions(
        runTokens(1000),
        budget('tenant', BudgetScope.TENANT, '', {
          dimension: Dimension.TOKENS,
          limit: 5000,
          window: Window.CALENDAR_DAY,
        }),
      );
    });

    it("holds the run's share and asks the ledger, which answers", () => {
      const { last, state } = play([reserve(request('r1', { estimatedTokens: 600 }))]);
      const [held, forwarded] = last as [BudgetHeld, HoldRequested];
      expect(held).toMatchObject({
        $typeName: 'warden.budget.v1.BudgetHeld',
        reservationId: 'res-r1',
        charges: [{ budgetId: 'run-tokens', held: 600 }],
        expiresAtMs: t0 + TTL,
      });
      expect(forwarded).toEqual(
        create(HoldRequestedSchema, {
          reservationId: 'res-r1',
          request: request('r1', { estimatedTokens: 600 }),
          ask: held.ask,
          requestedAtMs: t0,
          expiresAtMs: t0 + TTL,
          runTokensUsed: 600,
          runTokensLimit: 1000,
          approvalRequired: false,
          approvalReason: '',
          degradeHints: [],
        }),
      );
      expect(held.forwarded).toEqual(forwarded);
      expect(state.tokens.held).toBe(600);
    });

    it('a run-level refusal answers at once, without the ledger', () => {
      const { last } = play([reserve(request('r1', { estimatedTokens: 1001 }))]);
      expect(last).toHaveLength(1);
      expect(refusalOf(last).dimension).toBe(Dimension.TOKENS);
    });

    it('a duplicate while the hold is open asks the ledger again; after it closed it is refused as a duplicate', () => {
      const { state, last } = play([reserve(request('r1')), reserve(request('r1'))]);
      expect(last).toEqual([play([reserve(request('r1'))]).last[1]]);
      const closed = play([release('r1'), reserve(request('r1'))], state);
      expect(closed.last).toMatchObject([
        {
          $typeName: 'warden.budget.v1.BudgetReservationRefused',
          reason: 'duplicate of request r1, whose reservation is released',
        },
      ]);
      expect(closed.state.tokens.held).toBe(0);
    });

    it("settling or releasing the run's share tells the ledger too", () => {
      const settled = play([reserve(request('r1')), settle('r1', 80)]).last;
      expect(settled.map((e) => e.$typeName)).toEqual([
        'warden.budget.v1.BudgetSettled',
        'warden.budget.v1.HoldSettlementRequested',
      ]);
      expect(settled[1]).toMatchObject({ reservationId: 'res-r1', tenantId: 'acme', actual: { tokens: 80 } });
      const released = play([reserve(request('r1')), release('r1', t0 + 1, 30)]).last;
      expect(released[1]).toMatchObject({
        $typeName: 'warden.budget.v1.HoldReleaseRequested',
        reason: 'decision deny: not allowed',
        charged: { tokens: 30 },
      });
    });

    it("ignores the ledger's answers on its changelog (the run's share is its BudgetHeld)", () => {
      const { state, last } = play([reserve(request('r1'))]);
      const ledgerAnswer = create(BudgetReservedSchema, {
        reservationId: 'res-r1',
        request: request('r1'),
        reservedTokens: 100,
        fromLedger: true,
      });
      expect(runBudget.evolve(state, ledgerAnswer)).toBe(state);
      // Even before the hold (a rebuild reading them in another order): the hold still counts.
      const rebuilt = fold(runBudget.evolve, runBudget.initialState, [ledgerAnswer, ...last]);
      expect(rebuilt.tokens.held).toBe(100);
    });
  });
});
