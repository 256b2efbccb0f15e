import {
  ActionKind,
  AskSchema,
  BudgetHeldSchema,
  BudgetReleasedSchema,
  ChargeSchema,
  Dimension,
  Window,
  BudgetReservationRefusedSchema,
  BudgetReservedSchema,
  BudgetSettledSchema,
  create,
  Envelope,
  GateRequestedSchema,
  Message,
  MoneySchema,
} from '@warden/contracts';
import { RunUsageRow, runUsageProjection } from './run-usage.projection';

const request = (requestId: string) =>
  create(GateRequestedSchema, {
    requestId,
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    actionKind: ActionKind.MODEL_CALL,
  });
const envelope = (data: Message): Envelope => ({
  id: Math.random().toString(),
  type: data.$typeName,
  source: 'test',
  time: 0,
  key: 'run-1',
  tenantId: 'acme',
  agentId: 'bot',
  runId: 'run-1',
  data,
});
const reserved = (n: number, tokens: number) =>
  create(BudgetReservedSchema, {
    reservationId: `res-${n}`,
    request: request(`r${n}`),
    reservedTokens: tokens,
    reservedAtMs: 1000 + n,
  });
const apply = (events: readonly Message[]) =>
  events.reduce<RunUsageRow | null>((row, e) => runUsageProjection.evolve(row, envelope(e)), null);

describe('run usage projection', () => {
  it('sums reservations, refusals, settlements, releases and cost per run', () => {
    const row = apply([
      reserved(1, 300),
      reserved(2, 200),
      reserved(3, 50),
      create(BudgetReservationRefusedSchema, { reservationId: 'res-4', request: request('r4'), refusedAtMs: 1004 }),
      create(BudgetSettledSchema, {
        reservationId: 'res-1',
        runId: 'run-1',
        actualTokens: 350,
        actualCost: create(MoneySchema, { currency: 'USD', micros: 1200 }),
        settledAtMs: 2000,
      }),
      create(BudgetReleasedSchema, { reservationId: 'res-2', runId: 'run-1', releasedAtMs: 3000 }),
    ]);
    expect(row).toMatchObject({
      id: 'run-1',
      tenant_id: 'acme',
      agent_id: 'bot',
      reserved_tokens: 50,
      settled_tokens: 350,
      released_tokens: 200,
      reservations: 3,
      refusals: 1,
      cost_micros: 1200,
      currency: 'USD',
      updated_at: new Date(3000).toISOString(),
    });
  });

  it('counts a re-emitted answer, settlement or release once', () => {
    const settled = create(BudgetSettledSchema, { reservationId: 'res-1', runId: 'run-1', actualTokens: 90 });
    const released = create(BudgetReleasedSchema, { reservationId: 'res-2', runId: 'run-1' });
    const once = apply([reserved(1, 100), reserved(2, 10), settled, released]);
    const twice = apply([reserved(1, 100), reserved(1, 100), reserved(2, 10), settled, settled, released, released]);
    expect(twice).toEqual(once);
    expect(once).toMatchObject({ reservations: 2, reserved_tokens: 0, settled_tokens: 90, released_tokens: 10 });
  });

  it('keys rows by run id', () => {
    expect(runUsageProjection.rowId(envelope(reserved(1, 1)))).toBe('run-1');
    expect(runUsageProjection.rowId(envelope(create(BudgetReleasedSchema, { runId: 'run-9' })))).toBe('run-9');
  });

  it('counts a run hold as a reservation, a ledger refusal of it as a refusal, and the run meters from charges', () => {
    const charge = (held: number, used = 0) =>
      create(ChargeSchema, {
        budgetId: 'b',
        dimension: Dimension.TOKENS,
        window: Window.RUN,
        meter: 'run',
        held,
        used,
      });
    const row = apply([
      create(BudgetHeldSchema, {
        reservationId: 'res-1',
        request: request('r1'),
        ask: create(AskSchema, { tokens: 40 }),
        charges: [charge(40)],
        heldAtMs: 1,
      }),
      create(BudgetReservationRefusedSchema, {
        reservationId: 'res-1',
        request: request('r1'),
        fromLedger: true,
        refusedAtMs: 2,
      }),
      create(BudgetReservationRefusedSchema, {
        reservationId: 'res-1',
        request: request('r1'),
        fromLedger: true,
        refusedAtMs: 2,
      }),
      create(BudgetReleasedSchema, { reservationId: 'res-1', runId: 'run-1', charges: [charge(-40)], releasedAtMs: 3 }),
    ]);
    expect(row).toMatchObject({ reservations: 0, refusals: 1, reserved_tokens: 0, released_tokens: 40 });
    expect(row?.meters).toEqual({
      'b|1|1|run': { budgetId: 'b', dimension: 1, window: 1, meter: 'run', slots: { '0': { held: 0, used: 0 } } },
    });
  });

  it('counts what a failed step reported, and a late settlement of an expired hold', () => {
    const row = apply([
      reserved(1, 100),
      reserved(2, 100),
      create(BudgetReleasedSchema, {
        reservationId: 'res-1',
        runId: 'run-1',
        chargedTokens: 30,
        chargedCost: create(MoneySchema, { currency: 'USD', micros: 10 }),
      }),
      create(BudgetReleasedSchema, { reservationId: 'res-2', runId: 'run-1', expired: true }),
      create(BudgetSettledSchema, { reservationId: 'res-2', runId: 'run-1', actualTokens: 70, late: true }),
      create(BudgetSettledSchema, { reservationId: 'res-2', runId: 'run-1', actualTokens: 70, late: true }),
    ]);
    expect(row).toMatchObject({ reserved_tokens: 0, settled_tokens: 100, released_tokens: 100, cost_micros: 10 });
  });
});
