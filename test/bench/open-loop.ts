import { performance } from 'node:perf_hooks';
import { Histogram, HistogramData } from './histogram';

/**
 * The run of request i of the load `label` (letters and digits): `runs` runs at a time, each
 * replaced by a fresh one after `steps` requests. Every load of a stack has its own label, so no
 * run outgrows its budget across loads and the read-back tells the loads apart.
 */
export function runIdOf(label: string, i: number, runs: number, steps: number): string {
  return `bench-${label}-run-${i % runs}-${Math.floor(i / (runs * steps))}`;
}

/** The label of the load a run id of runIdOf belongs to (undefined for other runs). */
export function loadLabelOf(runId: string): string | undefined {
  return /^bench-([a-z0-9]+)-run-\d+-\d+$/.exec(runId)?.[1];
}

/** The step id of request i, so its events can be told apart later (warm-up or measured). */
export function stepIdOf(i: number): string {
  return `bench-step-${i}`;
}

export function stepIndex(stepId: string): number | undefined {
  const m = /^bench-step-(\d+)$/.exec(stepId);
  return m ? Number(m[1]) : undefined;
}

export interface OpenLoopOptions {
  readonly rate: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly index: number;
  readonly stride: number;
  /** performance.now() of request 0's due time. */
  readonly t0: number;
  /** Sends request i; resolves with what came back (undefined = lost). */
  send(i: number): Promise<Reply | undefined>;
  /** Called once a second with the running counts. */
  onProgress?(progress: Progress): void;
}

export interface Reply {
  readonly verdict: string;
  readonly reason: string;
  /** Wall-clock milliseconds: when the request was made, and when each stage handled it. */
  readonly requestedAtMs: number;
  readonly stamps: readonly number[];
}

export interface Progress {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly outstanding: number;
}

/** One timeline window (TIMELINE_SECONDS wide, by scheduled send time). */
export interface WindowStats {
  readonly received: number;
  readonly scheduled: HistogramData;
}

/** What one load generator, and all of them merged, count. */
export interface LoadCounts {
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly lostWarmup: number;
  readonly verdicts: Record<string, number>;
  readonly firstUnexpected?: { readonly verdict: string; readonly reason: string };
  /** Measured window only: requests from index `firstMeasured` on. */
  readonly firstMeasured: number;
  readonly measured: number;
  readonly measuredReceived: number;
  /** Answers received during the measured window, to any request (late warm-up ones included): its decisions. */
  readonly answeredInWindow: number;
}

export interface LoadResult extends LoadCounts {
  /** performance.now() offsets from t0, in ms: the measured window's start, and the last reply. */
  readonly windowStartMs: number;
  readonly lastReplyMs: number;
  readonly latency: { readonly scheduled: HistogramData; readonly actual: HistogramData };
  /** Stage gaps in wall-clock ms: requested -> stamp 1, stamp k -> stamp k+1, last stamp -> received. */
  readonly hops: readonly HistogramData[];
  /** requested -> last stamp (the decision, for Warden). */
  readonly toLastStamp: HistogramData;
  readonly timeline: readonly WindowStats[];
}

/** Width of the timeline's windows. */
export const TIMELINE_SECONDS = 10;

/**
 * Open-loop load: request i of the global schedule has a due time and is sent then, whatever is
 * still outstanding. The warm-up ramps the rate linearly from 0 to `rate` (so JIT and caches
 * warm up without a backlog); the measured window then runs at `rate`. A 1 ms timer sends
 * everything that has fallen due, so a stalled event loop shows up as a burst sent late, and
 * the latency measured from the SCHEDULED time counts that wait (no coordinated omission).
 * Latency from the ACTUAL send time is recorded beside it. With several generators, generator
 * k of n sends requests k, k+n, k+2n, ...
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const { rate, index, stride, t0 } = options;
  const perMs = rate / 1000;
  const rampMs = options.warmupSeconds * 1000;
  const warmup = Math.round((perMs * rampMs) / 2);
  const total = warmup + Math.round(options.seconds * rate);
  const dueAt = (i: number) => t0 + (i < warmup ? Math.sqrt((2 * rampMs * i) / perMs) : rampMs + (i - warmup) / perMs);
  const scheduled = new Histogram();
  const actual = new Histogram();
  const toLastStamp = new Histogram();
  const hops: Histogram[] = [];
  const timeline: { received: number; scheduled: Histogram }[] = [];
  const verdicts: Record<string, number> = {};
  let firstUnexpected: LoadResult['firstUnexpected'];
  let sent = 0;
  let received = 0;
  let lost = 0;
  let lostWarmup = 0;
  let measured = 0;
  let measuredReceived = 0;
  let answeredInWindow = 0;
  let lastReplyMs = 0;
  const windowStartMs = rampMs;

  const settle = (i: number, due: number, sentAt: number, reply: Reply | undefined) => {
    const now = performance.now();
    const inWindow = i >= warmup;
    if (!reply) {
      lost += 1;
      if (!inWindow) lostWarmup += 1;
      return;
    }
    received += 1;
    if (now - t0 >= windowStartMs) answeredInWindow += 1;
    verdicts[reply.verdict] = (verdicts[reply.verdict] ?? 0) + 1;
    if (reply.verdict !== 'allow' && !firstUnexpected)
      firstUnexpected = { verdict: reply.verdict, reason: reply.reason };
    if (!inWindow) return;
    measuredReceived += 1;
    lastReplyMs = Math.max(lastReplyMs, now - t0);
    const latency = now - due;
    scheduled.record(latency);
    actual.record(now - sentAt);
    const slot = Math.floor((due - t0 - windowStartMs) / 1000 / TIMELINE_SECONDS);
    timeline[slot] ??= { received: 0, scheduled: new Histogram() };
    timeline[slot].received += 1;
    timeline[slot].scheduled.record(latency);
    const wall = Date.now();
    const points = [reply.requestedAtMs, ...reply.stamps, wall];
    for (let k = 1; k < points.length; k++) (hops[k - 1] ??= new Histogram()).record(points[k] - points[k - 1]);
    if (reply.stamps.length > 0) toLastStamp.record(reply.stamps[reply.stamps.length - 1] - reply.requestedAtMs);
  };

  const inflight = new Set<Promise<void>>();
  const fire = (i: number, due: number) => {
    const sentAt = performance.now();
    sent += 1;
    if (i >= warmup) measured += 1;
    const p = options.send(i).then(
      (reply) => settle(i, due, sentAt, reply),
      () => settle(i, due, sentAt, undefined),
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  const progress = options.onProgress
    ? setInterval(() => options.onProgress?.({ sent, received, lost, outstanding: inflight.size }), 1000)
    : undefined;
  let next = index;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && dueAt(next) <= now) {
        fire(next, dueAt(next));
        next += stride;
      }
      if (next < total) setTimeout(tick, 1);
      else done();
    };
    setTimeout(tick, Math.max(0, t0 - performance.now()));
  });
  while (inflight.size > 0) await Promise.all([...inflight]);
  if (progress) clearInterval(progress);

  return {
    sent,
    received,
    lost,
    lostWarmup,
    verdicts,
    firstUnexpected,
    firstMeasured: warmup,
    measured,
    measuredReceived,
    answeredInWindow,
    windowStartMs,
    lastReplyMs,
    latency: { scheduled: scheduled.data(), actual: actual.data() },
    hops: hops.map((h) => h.data()),
    toLastStamp: toLastStamp.data(),
    timeline: Array.from(timeline, (w) => ({
      received: w?.received ?? 0,
      scheduled: (w?.scheduled ?? new Histogram()).data(),
    })),
  };
}
