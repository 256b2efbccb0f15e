import {
  ActionKind,
  BudgetReleasedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetSettledSchema,
  create,
  Dimension,
  GateRequested,
  GateRequestedSchema,
  MoneySchema,
} from '@warden/contracts';
import { fold, given } from '@warden/kernel';
import { RunBudgetCommand, runBudget, RunBudgetEvent, RunLimits } from './run-budget';

const now = 1_700_000_000_000;
const limits: RunLimits = { tokens: 1000, toolCalls: 2 };

const request = (requestId: string, over: Partial<Omit<GateRequested, '$typeName'>> = {}): GateRequested =>
  create(GateRequestedSchema, {
    requestId,
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    actionKind: ActionKind.MODEL_CALL,
    estimatedTokens: 100,
    estimatedCost: create(MoneySchema, { currency: 'USD', micros: 2000 }),
    deadlineMs: now + 5000,
    ...over,
  });
const reserve = (
  req: GateRequested,
  over: Partial<Extract<RunBudgetCommand, { type: 'ReserveBudget' }>> = {},
): RunBudgetCommand => ({
  type: 'ReserveBudget',
  request: req,
  reservationId: `res-${req.requestId}`,
  now,
  limits,
  killSwitchIds: [],
  ...over,
});
const settle = (requestId: string, actualTokens: number): RunBudgetCommand => ({
  type: 'SettleBudget',
  requestId,
  actualTokens,
  actualCost: create(MoneySchema, { currency: 'USD', micros: 1500 }),
  now: now + 10,
});
const release = (requestId: string, reason = 'decision deny: not allowed'): RunBudgetCommand => ({
  type: 'ReleaseBudget',
  requestId,
  reason,
  now: now + 10,
});
/** The events a command yields after a history, as the processor would record them. */
const run = (history: readonly RunBudgetEvent[], cmd: RunBudgetCommand) =>
  given(runBudget, history).when(cmd).thenEvents();
const reserved = (requestId: string, tokens = 100, over: Partial<Omit<GateRequested, '$typeName'>> = {}) =>
  run([], reserve(request(requestId, { estimatedTokens: tokens, ...over })))[0] as BudgetReserved;
const settled = (requestId: string, actualTokens: number) =>
  create(BudgetSettledSchema, { reservationId: `res-${requestId}`, runId: 'run-1', actualTokens });

describe('run budget decider', () => {
  describe('reserve', () => {
    it('reserves the estimate and reports the run usage after it', () => {
      const req = request('r1');
      given(runBudget)
        .when(reserve(req))
        .then([
          create(BudgetReservedSchema, {
            reservationId: 'res-r1',
            request: req,
            reservedTokens: 100,
            reservedToolCalls: 0,
            reservedCost: req.estimatedCost,
            reservedAtMs: now,
            runTokensUsed: 100,
            runTokensLimit: 1000,
          }),
        ]);
    });

    it('counts used plus reserved: runTokensUsed after a settlement and an open reservation', () => {
      const [event] = run([reserved('r1', 300), settled('r1', 250), reserved('r2', 200)], reserve(request('r3')));
      expect((event as BudgetReserved).runTokensUsed).toBe(250 + 200 + 100);
    });

    it('a tool call reserves one tool call', () => {
      const [event] = run([], reserve(request('t1', { actionKind: ActionKind.TOOL_CALL, tool: 'tickets' })));
      expect((event as BudgetReserved).reservedToolCalls).toBe(1);
    });

    it('allows reaching the token limit exactly, and refuses going past it, naming the dimension', () => {
      const history = [reserved('r1', 600), settled('r1', 600)];
      expect(run(history, reserve(request('r2', { estimatedTokens: 400 })))[0].$typeName).toBe(
        BudgetReservedSchema.typeName,
      );
      given(runBudget, history)
        .when(reserve(request('r2', { estimatedTokens: 401 })))
        .then([
          create(BudgetReservationRefusedSchema, {
            reservationId: 'res-r2',
            request: request('r2', { estimatedTokens: 401 }),
            dimension: Dimension.TOKENS,
            reason: 'run token budget exceeded: 600 used or reserved + 401 requested > limit 1000',
            refusedAtMs: now,
          }),
        ]);
    });

    it('counts open reservations toward the limit', () => {
      const [event] = run([reserved('r1', 950)], reserve(request('r2', { estimatedTokens: 51 })));
      expect(event).toMatchObject({ dimension: Dimension.TOKENS });
    });

    it('refuses a tool call past the tool-call limit; other actions still pass', () => {
      const tool = { actionKind: ActionKind.TOOL_CALL, tool: 'tickets', estimatedTokens: 0 };
      const history = [reserved('t1', 0, tool), reserved('t2', 0, tool)];
      const [refused] = run(history, reserve(request('t3', tool)));
      expect(refused).toMatchObject({
        $typeName: BudgetReservationRefusedSchema.typeName,
        dimension: Dimension.TOOL_CALLS,
        reason: 'run tool-call budget exceeded: 2 used or reserved + 1 requested > limit 2',
      });
      expect(run(history, reserve(request('m1')))[0].$typeName).toBe(BudgetReservedSchema.typeName);
    });

    it('a limit of 0 is unlimited', () => {
      const [event] = run(
        [reserved('r1', 1_000_000)],
        reserve(request('r2', { estimatedTokens: 5_000_000 }), { limits: { tokens: 0, toolCalls: 0 } }),
      );
      expect(event.$typeName).toBe(BudgetReservedSchema.typeName);
    });

    it('refuses everything in the scope of a kill switch, naming the switch, before any other check', () => {
      const req = request('r1', { deadlineMs: now - 1 });
      given(runBudget)
        .when(reserve(req, { killSwitchIds: ['ks-9'] }))
        .then([
          create(BudgetReservationRefusedSchema, {
            reservationId: 'res-r1',
            request: req,
            dimension: Dimension.SCOPE,
            reason: 'kill switch ks-9 engaged: no budget',
            refusedAtMs: now,
          }),
        ]);
    });

    it('refuses a request whose deadline has passed; no deadline (0) and a deadline of now pass', () => {
      const [late] = run([], reserve(request('r1', { deadlineMs: now - 1 })));
      expect(late).toMatchObject({ dimension: Dimension.TIME, reason: 'deadline passed' });
      expect(run([], reserve(request('r2', { deadlineMs: 0 })))[0].$typeName).toBe(BudgetReservedSchema.typeName);
      expect(run([], reserve(request('r3', { deadlineMs: now })))[0].$typeName).toBe(BudgetReservedSchema.typeName);
    });

    it('refuses a negative or non-numeric estimate instead of crediting the run', () => {
      for (const estimatedTokens of [-50, Number.NaN, Number.POSITIVE_INFINITY]) {
        const [event] = run([], reserve(request('r1', { estimatedTokens }), { limits: { tokens: 0, toolCalls: 0 } }));
        expect(event).toMatchObject({
          $typeName: BudgetReservationRefusedSchema.typeName,
          dimension: Dimension.TOKENS,
        });
      }
    });

    it('rejects a request without a request id', () => {
      given(runBudget)
        .when(reserve(request('')))
        .thenThrows('invalid', 'request_id_required');
    });
  });

  describe('duplicates', () => {
    it('answers a duplicate request id with the identical recorded event, and counts it once', () => {
      const first = reserved('r1', 300);
      const history = [first];
      const state = given(runBudget, history).state;
      const [again] = given(runBudget, history)
        .when(reserve(request('r1', { estimatedTokens: 300 }), { reservationId: 'res-other', now: now + 99 }))
        .then([first]);
      expect(runBudget.evolve(state, again)).toBe(state);
      expect(state.tokens).toEqual({ used: 0, reserved: 300 });
    });

    it('answers a duplicate of a refused request with the same refusal, even when budget is free now', () => {
      const [refused] = run([], reserve(request('r1', { estimatedTokens: 2000 })));
      given(runBudget, [refused])
        .when(reserve(request('r1', { estimatedTokens: 10 })))
        .then([refused]);
    });

    it('answers a duplicate of a settled request with its reservation, changing nothing', () => {
      const history = [reserved('r1', 300), settled('r1', 200)];
      const state = given(runBudget, history).state;
      const [again] = given(runBudget, history)
        .when(reserve(request('r1', { estimatedTokens: 300 })))
        .then([history[0]]);
      expect(runBudget.evolve(state, again)).toBe(state);
      expect(state.tokens).toEqual({ used: 200, reserved: 0 });
    });
  });

  describe('settle', () => {
    it('settles an open reservation to the actual use', () => {
      given(runBudget, [reserved('r1', 300)])
        .when(settle('r1', 280))
        .then([
          create(BudgetSettledSchema, {
            reservationId: 'res-r1',
            requestId: 'r1',
            runId: 'run-1',
            actualTokens: 280,
            actualCost: create(MoneySchema, { currency: 'USD', micros: 1500 }),
            settledAtMs: now + 10,
          }),
        ]);
    });

    it('moves tokens and tool calls from reserved to used', () => {
      const tool = { actionKind: ActionKind.TOOL_CALL, tool: 'tickets' };
      const history = [reserved('r1', 300, tool), reserved('r2', 100)];
      const events = run(history, settle('r1', 280));
      const state = fold(runBudget.evolve, given(runBudget, history).state, events);
      expect(state.tokens).toEqual({ used: 280, reserved: 100 });
      expect(state.toolCalls).toEqual({ used: 1, reserved: 0 });
      expect(state.reservations.get('res-r1')).toMatchObject({ status: 'settled', tokens: 280 });
    });

    it('an overrun (actual > reserved) counts in full and refuses the next request past the limit', () => {
      const history = [reserved('r1', 100), settled('r1', 950)];
      expect(given(runBudget, history).state.tokens).toEqual({ used: 950, reserved: 0 });
      const [event] = run(history, reserve(request('r2', { estimatedTokens: 51 })));
      expect(event).toMatchObject({
        dimension: Dimension.TOKENS,
        reason: 'run token budget exceeded: 950 used or reserved + 51 requested > limit 1000',
      });
      const [over] = run([reserved('r1', 100), settled('r1', 1200)], reserve(request('r2', { estimatedTokens: 0 })));
      expect((over as BudgetReservationRefused).dimension).toBe(Dimension.TOKENS);
    });

    it('does nothing for an unknown, refused, settled or released request', () => {
      const [refused] = run([], reserve(request('r1', { estimatedTokens: 5000 })));
      const released = create(BudgetReleasedSchema, { reservationId: 'res-r2', runId: 'run-1' });
      given(runBudget).when(settle('nope', 10)).then([]);
      given(runBudget, [refused]).when(settle('r1', 10)).then([]);
      given(runBudget, [reserved('r1'), settled('r1', 90)])
        .when(settle('r1', 10))
        .then([]);
      given(runBudget, [reserved('r2'), released])
        .when(settle('r2', 10))
        .then([]);
    });

    it('rejects negative or non-numeric actual tokens, keeping the reservation open', () => {
      given(runBudget, [reserved('r1')])
        .when(settle('r1', -1))
        .thenThrows('invalid', 'invalid_actual_tokens');
      given(runBudget, [reserved('r1')])
        .when(settle('r1', Number.NaN))
        .thenThrows('invalid', 'invalid_actual_tokens');
    });
  });

  describe('release', () => {
    it('releases an open reservation and gives its budget back', () => {
      const tool = { actionKind: ActionKind.TOOL_CALL, tool: 'tickets', estimatedTokens: 900 };
      const history = [reserved('r1', 900, tool)];
      const [event] = given(runBudget, history)
        .when(release('r1'))
        .then([
          create(BudgetReleasedSchema, {
            reservationId: 'res-r1',
            requestId: 'r1',
            runId: 'run-1',
            reason: 'decision deny: not allowed',
            releasedAtMs: now + 10,
          }),
        ]);
      const after = [...history, event];
      expect(given(runBudget, after).state.tokens).toEqual({ used: 0, reserved: 0 });
      expect(given(runBudget, after).state.toolCalls).toEqual({ used: 0, reserved: 0 });
      expect(run(after, reserve(request('r2', { estimatedTokens: 1000 })))[0].$typeName).toBe(
        BudgetReservedSchema.typeName,
      );
    });

    it('does nothing for an unknown, refused, settled or released request', () => {
      const [refused] = run([], reserve(request('r1', { estimatedTokens: 5000 })));
      const released = create(BudgetReleasedSchema, { reservationId: 'res-r2', runId: 'run-1' });
      given(runBudget).when(release('nope')).then([]);
      given(runBudget, [refused]).when(release('r1')).then([]);
      given(runBudget, [reserved('r1'), settled('r1', 90)])
        .when(release('r1'))
        .then([]);
      given(runBudget, [reserved('r2'), released])
        .when(release('r2'))
        .then([]);
    });
  });

  describe('evolve', () => {
    it('is idempotent per reservation id: every event applied twice changes nothing the second time', () => {
      const released = create(BudgetReleasedSchema, { reservationId: 'res-r2', runId: 'run-1' });
      const [refused] = run([], reserve(request('r3', { estimatedTokens: 5000 })));
      const events: RunBudgetEvent[] = [reserved('r1', 300), settled('r1', 250), reserved('r2', 50), released, refused];
      let state = runBudget.initialState;
      for (const event of events) {
        state = runBudget.evolve(state, event);
        expect(runBudget.evolve(state, event)).toBe(state);
      }
      expect(state.tokens).toEqual({ used: 250, reserved: 0 });
      expect(state.reservations.size).toBe(3);
    });

    it('ignores a second answer for a request id under another reservation id', () => {
      const state = given(runBudget, [reserved('r1', 300)]).state;
      expect(runBudget.evolve(state, { ...reserved('r1', 300), reservationId: 'res-x' })).toBe(state);
    });

    it('ignores a release after a settlement and a settlement after a release', () => {
      const released = create(BudgetReleasedSchema, { reservationId: 'res-r1', runId: 'run-1' });
      const afterSettle = given(runBudget, [reserved('r1', 300), settled('r1', 250)]).state;
      expect(runBudget.evolve(afterSettle, released)).toBe(afterSettle);
      const afterRelease = given(runBudget, [reserved('r1', 300), released]).state;
      expect(runBudget.evolve(afterRelease, settled('r1', 250))).toBe(afterRelease);
    });
  });
});
