/**
 * The targets `npm run bench` reports against (issue 16; docs/benchmarks.md lists them). The gate's
 * are ratios to the floor measured in the same invocation on the same machine: absolute times do
 * not hold on shared machines. Targets are reported, not asserted: a miss alone does not fail a run.
 */
export const TARGETS = {
  /** At these rates (latency mode): Warden's p50 and p99 at most this many times the floor's, nothing lost. */
  latency: { rates: [200, 500], p50Ratio: 1.5, p99Ratio: 2 },
  /** Capacity: the highest rate with p99 at most p99Ms and nothing lost; Warden's at least `ratio` times the floor's. */
  capacity: { p99Ms: 100, ratio: 0.8 },
  /** An idle stack (no load), broker and Postgres included, as % of one core. */
  idlePercentOfCore: 15,
  /** Sustained: this long at this share of the measured capacity, nothing lost, every service's memory flat. */
  sustained: { seconds: 600, shareOfCapacity: 0.8 },
  /** Kill switch: engage returned -> a request in scope denied, p99, measured right after the load. */
  killswitchP99Ms: 50,
  /** Trace rebuild of the `requests` projection. */
  rebuildEventsPerSecond: 20_000,
  /** Policy evaluation of a 100-rule bundle, per core. */
  policyEvaluationsPerCoreSecond: 200_000,
} as const;

/**
 * When the bench calls a process's memory not flat (its own rule, not the issue's): the mean of the
 * window's last quarter of RSS samples is above the first quarter's by more than RSS_GROWTH.percent
 * and RSS_GROWTH.mib both (end against start when there are fewer than 8 samples). Heaps breathe
 * by tens of MiB between collections; state that grows without bound shows as a steady climb.
 */
export const RSS_GROWTH = { percent: 20, mib: 32 } as const;

export interface RssGrowth {
  readonly fromMiB: number;
  readonly toMiB: number;
  readonly grewMiB: number;
  readonly grewPercent: number;
  readonly flagged: boolean;
}

export function rssGrowth(rss: {
  readonly start: number;
  readonly end: number;
  readonly samples: readonly number[];
}): RssGrowth {
  const s = rss.samples;
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const quarter = Math.floor(s.length / 4);
  const [from, to] = s.length >= 8 ? [mean(s.slice(0, quarter)), mean(s.slice(-quarter))] : [rss.start, rss.end];
  const grewMiB = to - from;
  const grewPercent = from > 0 ? (grewMiB / from) * 100 : 0;
  return {
    fromMiB: from,
    toMiB: to,
    grewMiB,
    grewPercent,
    flagged: grewMiB > RSS_GROWTH.mib && grewPercent > RSS_GROWTH.percent,
  };
}

/** Whether a capacity step passed: p99 within the bound, nothing lost, every answer `allow`; why not if not. */
export function stepVerdict(load: {
  readonly lost: number;
  readonly latency: { readonly scheduled: { readonly p99: number } };
  readonly verdicts: Record<string, number>;
}): { readonly passed: boolean; readonly why: string } {
  const p99 = load.latency.scheduled.p99;
  const other = Object.entries(load.verdicts).filter(([v]) => v !== 'allow');
  const why = [
    ...(load.lost > 0 ? [`${load.lost} lost`] : []),
    ...(!(p99 <= TARGETS.capacity.p99Ms) ? [`p99 ${Number.isFinite(p99) ? p99.toFixed(1) : '-'} ms`] : []),
    ...other.map(([v, n]) => `${n} ${v}`),
  ];
  return { passed: why.length === 0, why: why.join(', ') || `p99 ${p99.toFixed(1)} ms` };
}
