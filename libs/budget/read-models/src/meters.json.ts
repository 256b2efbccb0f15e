import { Charge, Window } from '@warden/contracts';
import { dimensionName, windowName, windowStart } from '@warden/budget-domain';

/** One meter as a projection row keeps it: held and used per window slot. */
export interface MeterJson {
  readonly budgetId: string;
  readonly dimension: number;
  readonly window: number;
  readonly meter: string;
  /** Slot start (ms) -> held and used in it. */
  readonly slots: Readonly<Record<string, { readonly held: number; readonly used: number }>>;
}
export type MetersJson = Readonly<Record<string, MeterJson>>;

const keyOf = (c: Pick<Charge, 'budgetId' | 'dimension' | 'window' | 'meter'>) =>
  `${c.budgetId}|${c.dimension}|${c.window}|${c.meter}`;

/**
 * Adds charges to the meters of a row, dropping slots that left their window and hold nothing
 * (the same rule the budget processors keep their meters by).
 */
export function withCharges(meters: MetersJson, charges: readonly Charge[], at: number): MetersJson {
  const next: Record<string, MeterJson> = { ...meters };
  for (const c of charges) {
    const key = keyOf(c);
    const meter = next[key] ?? {
      budgetId: c.budgetId,
      dimension: c.dimension,
      window: c.window,
      meter: c.meter,
      slots: {},
    };
    const slot = meter.slots[String(c.slotMs)] ?? { held: 0, used: 0 };
    const start = windowStart(c.window, at);
    const slots: Record<string, { held: number; used: number }> = {};
    for (const [s, v] of Object.entries(meter.slots)) if (Number(s) >= start || v.held !== 0) slots[s] = v;
    slots[String(c.slotMs)] = { held: slot.held + c.held, used: slot.used + c.used };
    next[key] = { ...meter, slots };
  }
  return next;
}

/** A meter's usage in its window at `now`, as the API shows it. */
export interface MeterUsage {
  readonly budgetId: string;
  readonly dimension: string;
  readonly window: string;
  /** The scope key: "run", "tool:<tool>", "agent:<id>", "tenant". */
  readonly meter: string;
  readonly held: number;
  readonly used: number;
  readonly windowStart: string | null;
}

export function usageAt(meters: MetersJson, now: number): MeterUsage[] {
  return Object.values(meters).map((m) => {
    const start = windowStart(m.window as Window, now);
    let held = 0;
    let used = 0;
    for (const [s, v] of Object.entries(m.slots)) {
      if (Number(s) < start) continue;
      held += v.held;
      used += v.used;
    }
    return {
      budgetId: m.budgetId,
      dimension: dimensionName(m.dimension) ?? 'unspecified',
      window: windowName(m.window as Window),
      meter: m.meter,
      held,
      used,
      windowStart: start > 0 ? new Date(start).toISOString() : null,
    };
  });
}
