import {
  BudgetReleasedSchema,
  BudgetSettledSchema,
  ChargeSchema,
  create,
  Dimension,
  Envelope,
  LedgerHeldSchema,
  LedgerReleasedSchema,
  LedgerSettledSchema,
  Message,
  MoneySchema,
  Window,
} from '@warden/contracts';
import { usageAt } from './meters.json';
import { StepCostRow, stepCostsProjection } from './step-costs.projection';
import { TenantUsageRow, tenantUsageProjection } from './tenant-usage.projection';

const envelope = (data: Message): Envelope => ({
  id: 'e',
  type: data.$typeName,
  source: 'test',
  time: 0,
  key: 'acme',
  tenantId: 'acme',
  agentId: '',
  runId: '',
  data,
});
const HOUR = 3_600_000;
const t0 = Date.UTC(2026, 10, 21, 10);
const charge = (held: number, used: number, slotMs: number, window = Window.CALENDAR_HOUR) =>
  create(ChargeSchema, { budgetId: 'b', dimension: Dimension.TOKENS, window, meter: 'agent:bot', slotMs, held, used });

describe('tenant usage projection', () => {
  const apply = (events: readonly Message[]) =>
    events.reduce<TenantUsageRow | null>((row, e) => tenantUsageProjection.evolve(row, envelope(e)), null);

  it("sums the ledger's charges per meter and window slot, and skips a duplicated event by its seq", () => {
    const held = create(LedgerHeldSchema, {
      tenantId: 'acme',
      reservationId: 'r1',
      charges: [charge(100, 0, t0)],
      heldAtMs: t0,
      seq: 1,
    });
    const settled = create(LedgerSettledSchema, {
      tenantId: 'acme',
      reservationId: 'r1',
      charges: [charge(-100, 60, t0)],
      settledAtMs: t0 + 5,
      seq: 2,
    });
    const other = create(LedgerHeldSchema, {
      tenantId: 'acme',
      reservationId: 'r2',
      charges: [charge(30, 0, t0)],
      heldAtMs: t0 + 6,
      seq: 3,
    });
    const row = apply([held, held, settled, other, settled]);
    expect(row).toMatchObject({ id: 'acme', seq: 3 });
    expect(usageAt(row!.meters, t0 + 10)).toEqual([
      {
        budgetId: 'b',
        dimension: 'tokens',
        window: 'calendar_hour',
        meter: 'agent:bot',
        held: 30,
        used: 60,
        windowStart: new Date(t0).toISOString(),
      },
    ]);
    // The next hour starts from nothing; an old slot is dropped once nothing is held in it.
    expect(usageAt(row!.meters, t0 + HOUR)).toMatchObject([{ held: 0, used: 0 }]);
    const released = create(LedgerReleasedSchema, {
      tenantId: 'acme',
      reservationId: 'r2',
      charges: [charge(-30, 0, t0)],
      releasedAtMs: t0 + HOUR,
      seq: 4,
    });
    const later = create(LedgerHeldSchema, {
      tenantId: 'acme',
      reservationId: 'r3',
      charges: [charge(5, 0, t0 + HOUR)],
      heldAtMs: t0 + HOUR,
      seq: 5,
    });
    const next = [released, later].reduce((r, e) => tenantUsageProjection.evolve(r, envelope(e)), row);
    expect(Object.values(next!.meters)[0].slots).toEqual({ [String(t0 + HOUR)]: { held: 5, used: 0 } });
  });
});

describe('step costs projection', () => {
  const ids = {
    reservationId: 'r1',
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    requestId: 'q1',
    businessOutcome: 'ticket-resolved',
  };
  const apply = (events: readonly Message[]) =>
    events.reduce<StepCostRow | null>((row, e) => stepCostsProjection.evolve(row, envelope(e)), null);

  it('records what a completed step cost, with its run, agent and business outcome', () => {
    const settled = create(BudgetSettledSchema, {
      ...ids,
      actualTokens: 80,
      actualCost: create(MoneySchema, { currency: 'EUR', micros: 420 }),
      settledAtMs: t0,
    });
    expect(apply([settled])).toEqual({
      id: 'r1',
      tenant_id: 'acme',
      agent_id: 'bot',
      run_id: 'run-1',
      request_id: 'q1',
      business_outcome: 'ticket-resolved',
      outcome: 'completed',
      currency: 'EUR',
      cost_micros: 420,
      tokens: 80,
      at: new Date(t0).toISOString(),
    });
  });

  it('records a failed step only when it reported a use; a late settlement replaces the expiry', () => {
    expect(apply([create(BudgetReleasedSchema, { ...ids, reason: 'decision deny' })])).toBeNull();
    expect(apply([create(BudgetReleasedSchema, { ...ids, chargedTokens: 5 })])).toMatchObject({
      outcome: 'failed',
      tokens: 5,
    });
    const late = apply([
      create(BudgetReleasedSchema, { ...ids, expired: true }),
      create(BudgetSettledSchema, { ...ids, actualTokens: 9, late: true }),
    ]);
    expect(late).toMatchObject({ outcome: 'completed', tokens: 9, currency: '' });
  });
});
