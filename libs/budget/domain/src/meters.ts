import { Ask, BudgetScope, Charge, ChargeSchema, create, Dimension, Threshold, Window } from '@warden/contracts';
import { PMap } from './persistent-map';
import { slotOf, windowLabel, windowStart } from './windows';

/** A budget limit as it applies to one request: which meter (scope key) it counts on. */
export interface ResolvedLimit {
  readonly budgetId: string;
  readonly name: string;
  readonly scope: BudgetScope;
  readonly dimension: Dimension;
  readonly window: Window;
  readonly limit: number;
  readonly currency: string;
  readonly degradeAtPercent: number;
  readonly askAtPercent: number;
  /** The scope key: "run", "tool:<tool>" (per run or tenant-wide), "agent:<id>", "tenant". */
  readonly meter: string;
}

/** How many open reservations touch a resource, and whether a settled one did (scope dimension). */
export interface ResourceUse {
  readonly open: number;
  readonly used: boolean;
}

/** Usage in one window slot: held by open reservations and used (settled). */
export interface SlotUse {
  readonly slot: number;
  readonly held: number;
  readonly used: number;
  readonly resources: PMap<ResourceUse>;
}

/** One meter: its slots in ascending order. */
export type Meter = readonly SlotUse[];
export type Meters = PMap<Meter>;

export const meterKey = (c: Pick<Charge, 'budgetId' | 'dimension' | 'window' | 'meter'>) =>
  `${c.budgetId}|${c.dimension}|${c.window}|${c.meter}`;

/** Held and used in the window at `now`. */
export function usageOf(meter: Meter | undefined, window: Window, now: number): number {
  if (!meter) return 0;
  const start = windowStart(window, now);
  let sum = 0;
  for (const s of meter) if (s.slot >= start) sum += s.held + s.used;
  return sum;
}

const slotAt = (meter: Meter | undefined, slot: number) => meter?.find((s) => s.slot === slot);

/** What the request asks of a dimension on a meter (scope: 1 for a resource new in the window). */
function amountOf(limit: ResolvedLimit, ask: Ask, meter: Meter | undefined, now: number): number {
  switch (limit.dimension) {
    case Dimension.TOKENS:
      return ask.tokens;
    case Dimension.TOOL_CALLS:
      return ask.toolCalls;
    case Dimension.RETRIES:
      return ask.retries;
    case Dimension.SPEND:
      return ask.spendMicros;
    case Dimension.RISK:
      return ask.riskPoints;
    case Dimension.SCOPE: {
      if (ask.resource === '') return 0;
      const use = slotAt(meter, slotOf(limit.window, now))?.resources.get(ask.resource);
      return use ? 0 : 1;
    }
    default:
      return 0;
  }
}

const DIMENSION_LABEL: Readonly<Record<Dimension, string>> = {
  [Dimension.UNSPECIFIED]: 'usage',
  [Dimension.TOKENS]: 'tokens',
  [Dimension.TOOL_CALLS]: 'tool calls',
  [Dimension.RETRIES]: 'retries',
  [Dimension.TIME]: 'run time',
  [Dimension.SPEND]: 'spend',
  [Dimension.SCOPE]: 'scope',
  [Dimension.RISK]: 'risk points',
};

const DEGRADE_ADVICE: Readonly<Record<Dimension, string>> = {
  [Dimension.UNSPECIFIED]: 'slow down',
  [Dimension.TOKENS]: 'use a cheaper model',
  [Dimension.TOOL_CALLS]: 'make fewer tool calls',
  [Dimension.RETRIES]: 'stop retrying',
  [Dimension.TIME]: 'wrap up the run',
  [Dimension.SPEND]: 'use a cheaper model',
  [Dimension.SCOPE]: 'stay with the tools and resources already in use',
  [Dimension.RISK]: 'prefer lower-risk actions',
};

/** "agent daily", "run", "tool tickets per-run", "tenant monthly". */
export function budgetLabel(limit: Pick<ResolvedLimit, 'scope' | 'window' | 'meter'>): string {
  const scope =
    limit.scope === BudgetScope.TOOL
      ? `tool ${limit.meter.slice('tool:'.length)}`
      : limit.scope === BudgetScope.AGENT
        ? 'agent'
        : limit.scope === BudgetScope.TENANT
          ? 'tenant'
          : 'run';
  const window = limit.scope === BudgetScope.RUN ? '' : ` ${windowLabel(limit.window)}`;
  return `${scope}${window}`;
}

/** Which threshold a usage is at. */
export function thresholdOf(
  usage: number,
  limit: Pick<ResolvedLimit, 'limit' | 'degradeAtPercent' | 'askAtPercent'>,
): Threshold {
  if (usage > 0 && usage >= limit.limit) return Threshold.STOP;
  const pct = limit.limit > 0 ? (usage * 100) / limit.limit : 0;
  if (limit.askAtPercent > 0 && pct >= limit.askAtPercent) return Threshold.ASK;
  if (limit.degradeAtPercent > 0 && pct >= limit.degradeAtPercent) return Threshold.DEGRADE;
  return Threshold.CONTINUE;
}

export interface Refusal {
  readonly budgetId: string;
  readonly dimension: Dimension;
  readonly reason: string;
}

export interface Crossing {
  readonly limit: ResolvedLimit;
  readonly slot: number;
  readonly threshold: Threshold;
  readonly usage: number;
}

/** What every applicable budget says to a request that fits all of them. */
export interface Outcome {
  readonly charges: readonly Charge[];
  readonly approvalReasons: readonly string[];
  readonly degradeHints: readonly string[];
  readonly crossings: readonly Crossing[];
}

/**
 * Checks a request against every limit at once: the first limit it would exceed refuses it (and
 * nothing is held anywhere); otherwise every limit is charged its share, with the degrade and ask
 * thresholds the request reaches. `elapsed` is the run's wall-clock time (time limits).
 */
export function check(
  limits: readonly ResolvedLimit[],
  ask: Ask,
  meters: Meters,
  now: number,
  elapsed = 0,
): Refusal | Outcome {
  const charges: Charge[] = [];
  const approvalReasons: string[] = [];
  const degradeHints: string[] = [];
  const crossings: Crossing[] = [];
  for (const limit of limits) {
    const label = `${budgetLabel(limit)} ${DIMENSION_LABEL[limit.dimension]}`;
    const meter = meters.get(meterKey(limit));
    if (limit.dimension === Dimension.SPEND && ask.spendMicros > 0 && ask.currency !== limit.currency) {
      return {
        budgetId: limit.budgetId,
        dimension: limit.dimension,
        reason: `spend estimate in ${ask.currency || 'no currency'} cannot count against budget ${limit.budgetId} in ${limit.currency}`,
      };
    }
    const isTime = limit.dimension === Dimension.TIME;
    const before = isTime ? elapsed : usageOf(meter, limit.window, now);
    const amount = isTime ? 0 : amountOf(limit, ask, meter, now);
    const after = before + amount;
    if (isTime ? elapsed > limit.limit : amount > 0 && after > limit.limit) {
      return {
        budgetId: limit.budgetId,
        dimension: limit.dimension,
        reason: isTime
          ? `${label} budget exceeded: ${elapsed} ms elapsed > limit ${limit.limit} ms`
          : `${label} budget exceeded: ${before} used or held + ${amount} requested > limit ${limit.limit}`,
      };
    }
    const slot = slotOf(limit.window, now);
    // Every limit the request counts on gets a charge, even of 0: a settlement adds the actual use to it.
    if (!isTime && (limit.dimension !== Dimension.SCOPE || ask.resource !== '')) {
      charges.push(
        create(ChargeSchema, {
          budgetId: limit.budgetId,
          dimension: limit.dimension,
          window: limit.window,
          meter: limit.meter,
          slotMs: slot,
          held: amount,
          resource: limit.dimension === Dimension.SCOPE ? ask.resource : '',
          currency: limit.currency,
        }),
      );
    }
    if (amount === 0 && !isTime) continue;
    const reached = thresholdOf(after, limit);
    if (reached > thresholdOf(before, limit)) crossings.push({ limit, slot, threshold: reached, usage: after });
    const pct = limit.limit > 0 ? Math.floor((after * 100) / limit.limit) : 100;
    const where = `${DIMENSION_LABEL[limit.dimension]} at ${pct}% of ${budgetLabel(limit)} budget`;
    if (limit.askAtPercent > 0 && pct >= limit.askAtPercent) {
      approvalReasons.push(`${where} ${limit.name || limit.budgetId} (ask at ${limit.askAtPercent}%)`);
    }
    if (limit.degradeAtPercent > 0 && pct >= limit.degradeAtPercent) {
      degradeHints.push(`${DEGRADE_ADVICE[limit.dimension]}: ${where}`);
    }
  }
  return { charges, approvalReasons, degradeHints, crossings };
}

export const isRefusal = (r: Refusal | Outcome): r is Refusal => 'reason' in r;

/** The thresholds that closing charges (an overrun settles above its hold) push meters past. */
export function crossingsOf(
  limits: readonly ResolvedLimit[],
  meters: Meters,
  charges: readonly Charge[],
  now: number,
): Crossing[] {
  const crossings: Crossing[] = [];
  for (const c of charges) {
    const limit = limits.find((l) => meterKey(l) === meterKey(c));
    if (!limit || c.slotMs < windowStart(c.window, now)) continue;
    const before = usageOf(meters.get(meterKey(c)), c.window, now);
    const after = before + c.held + c.used;
    const reached = thresholdOf(after, limit);
    if (reached > thresholdOf(before, limit))
      crossings.push({ limit, slot: c.slotMs, threshold: reached, usage: after });
  }
  return crossings;
}

/** What a reservation actually used, per dimension, when it settles or a failed step reports use. */
export interface Actual {
  readonly tokens: number;
  readonly spendMicros: number;
  readonly currency: string;
}

/**
 * The charges that close a reservation: its holds come off (unless an expiry already took them
 * off: `stillHeld` false), and a settlement adds the actual use. Tokens and spend count what was
 * actually used (spend in another currency than the limit's counts as reserved); calls, retries,
 * risk and resources count as reserved. A release counts only the tokens and spend a failed step
 * reported.
 */
export function closingCharges(
  meters: Meters,
  reserved: readonly Charge[],
  mode: 'settle' | 'release',
  actual: Actual,
  stillHeld: boolean,
): Charge[] {
  return reserved.map((c) => {
    let held = stillHeld ? -c.held : 0;
    let used: number;
    switch (c.dimension) {
      case Dimension.TOKENS:
        used = actual.tokens;
        break;
      case Dimension.SPEND:
        // An actual cost in another currency cannot be converted: what was reserved counts instead.
        used = actual.currency === c.currency ? actual.spendMicros : mode === 'settle' ? c.held : 0;
        break;
      case Dimension.SCOPE: {
        // A resource counts as held while an open reservation touches it and no settled one has.
        const use = slotAt(meters.get(meterKey(c)), c.slotMs)?.resources.get(c.resource);
        const open = use?.open ?? 0;
        const wasUsed = use?.used ?? false;
        const countedHeld = open > 0 && !wasUsed;
        held = countedHeld && (mode === 'settle' || open <= 1) ? -1 : 0;
        used = mode === 'settle' && !wasUsed ? 1 : 0;
        break;
      }
      default:
        used = mode === 'settle' ? c.held : 0;
    }
    return create(ChargeSchema, { ...c, held, used });
  });
}

/**
 * Applies charges to the meters. `openDelta` is how the open count of a scope charge's resource
 * changes (+1 reserve, -1 settle or release, 0 for a late settlement). Slots that fell out of their
 * window and hold nothing are dropped.
 */
export function applyCharges(meters: Meters, charges: readonly Charge[], openDelta: number, at: number): Meters {
  let next = meters;
  for (const c of charges) {
    const key = meterKey(c);
    const meter = next.get(key) ?? [];
    const start = windowStart(c.window, at);
    const current = slotAt(meter, c.slotMs) ?? { slot: c.slotMs, held: 0, used: 0, resources: PMap.empty() };
    let resources = current.resources;
    if (c.resource !== '') {
      const use = resources.get(c.resource) ?? { open: 0, used: false };
      const updated = { open: Math.max(0, use.open + openDelta), used: use.used || c.used > 0 };
      resources =
        updated.open === 0 && !updated.used ? resources.delete(c.resource) : resources.set(c.resource, updated);
    }
    const slot: SlotUse = { slot: c.slotMs, held: current.held + c.held, used: current.used + c.used, resources };
    const kept = meter.filter((s) => s.slot !== c.slotMs && (s.slot >= start || s.held !== 0));
    const slots = [...kept, slot].sort((a, b) => a.slot - b.slot);
    next = next.set(key, slots);
  }
  return next;
}
