/**
 * A log-bucketed latency histogram (about 1 % relative error), mergeable across processes.
 * Values are milliseconds; the exact maximum and the mean are kept beside the buckets.
 */
const FLOOR_MS = 0.01;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

export interface HistogramData {
  readonly count: number;
  readonly sum: number;
  readonly max: number;
  /** Bucket index -> count, only buckets that were hit. */
  readonly buckets: Record<number, number>;
}

export interface Summary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export class Histogram {
  private readonly buckets = new Map<number, number>();
  private count = 0;
  private sum = 0;
  private max = 0;

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(data);
    return h;
  }

  record(ms: number): void {
    const v = Math.max(ms, 0);
    const index = v <= FLOOR_MS ? 0 : Math.ceil(Math.log(v / FLOOR_MS) / LOG_GROWTH);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + 1);
    this.count += 1;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  merge(data: HistogramData): void {
    for (const [index, n] of Object.entries(data.buckets)) {
      this.buckets.set(Number(index), (this.buckets.get(Number(index)) ?? 0) + n);
    }
    this.count += data.count;
    this.sum += data.sum;
    if (data.max > this.max) this.max = data.max;
  }

  /** The upper bound of the bucket holding the q-quantile (capped by the exact maximum). */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index)!;
      if (seen >= rank) return Math.min(FLOOR_MS * GROWTH ** index, this.max);
    }
    return this.max;
  }

  summary(): Summary {
    return {
      count: this.count,
      mean: this.count ? this.sum / this.count : NaN,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.count ? this.max : NaN,
    };
  }

  data(): HistogramData {
    return { count: this.count, sum: this.sum, max: this.max, buckets: Object.fromEntries(this.buckets) };
  }
}
