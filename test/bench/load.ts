import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { BenchConfig } from './config';
import { CpuUse, cpuUse, snapshot, waitForQuiet } from './cpu';
import { Histogram, HistogramData, Summary } from './histogram';
import type { WorkerConfig, WorkerMessage } from './load-worker';
import { LoadCounts, LoadResult, TIMELINE_SECONDS } from './open-loop';

/** The merged result of all load generators of one run (Warden or floor). */
export interface LoadReport extends LoadCounts {
  readonly offeredPerSecond: number;
  /** Measured replies over the time from the window's first due send to its last reply. */
  readonly achievedPerSecond: number;
  readonly latency: { readonly scheduled: Summary; readonly actual: Summary };
  /** Stage gaps (wall clock, 1 ms resolution), named by the caller. */
  readonly hops: readonly { readonly name: string; readonly summary: Summary; readonly data: HistogramData }[];
  readonly toLastStamp: HistogramData;
  /** CPU over the measured window (from its first due send until every generator is done). */
  readonly cpu: CpuUse;
  readonly timeline: readonly {
    readonly at: number;
    readonly perSecond: number;
    readonly p50: number;
    readonly p99: number;
  }[];
}

export type Shared = Pick<WorkerConfig, 'kind' | 'brokers' | 'topicPrefix' | 'floor' | 'agent'>;

export interface LoadOptions {
  /** Names of the stage gaps the generators measure. */
  readonly hopNames: readonly string[];
  readonly say: (line: string) => void;
  /** Child processes alive, for Ctrl-C. */
  readonly children: Set<ChildProcess>;
  /** Processes whose CPU use is reported, by name. */
  readonly watch: Record<string, number | undefined>;
  /** BENCH_PROFILE: where profiles go, and the already-preloaded processes to start profiling with the window. */
  readonly profile?: { readonly dir: string; readonly pids: readonly (number | undefined)[] };
}

/** Forks the load generators, starts them on one schedule, and merges what they measured. */
export async function runLoad(config: BenchConfig, shared: Shared, options: LoadOptions): Promise<LoadReport> {
  const { say, children, profile } = options;
  const workers = Array.from({ length: config.clients }, (_, index) => {
    const worker: WorkerConfig = {
      ...shared,
      index,
      stride: config.clients,
      rate: config.rate,
      warmupSeconds: config.warmupSeconds,
      seconds: config.seconds,
      runs: config.runs,
      stepsPerRun: config.stepsPerRun,
      timeoutMs: config.timeoutMs,
      partitions: config.partitions,
    };
    const profiling = profile
      ? { BENCH_PROFILE_DIR: profile.dir, BENCH_PROFILE_NAME: `load-generator-${index + 1}` }
      : undefined;
    const child = fork(join(__dirname, 'load-worker.js'), [], {
      env: { ...process.env, ...profiling, BENCH_WORKER: JSON.stringify(worker) },
      execArgv: profile ? ['--require', join(__dirname, 'profiler.js')] : [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  });
  const progress = new Map<number, Extract<WorkerMessage, { type: 'progress' }>>();
  const ready = workers.map((w) => nextMessage(w, 'ready'));
  await Promise.all(ready);
  const busy = await waitForQuiet(20, 30_000);
  say(`machine ${busy.toFixed(0)} % busy before the load`);
  const startWall = Date.now() + 500;
  const results = workers.map((w, i) => {
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') progress.set(i, m);
    });
    return nextMessage(w, 'done');
  });
  for (const w of workers) w.send({ type: 'go', startWall });
  const pids: Record<string, number | undefined> = { ...options.watch, bench: process.pid };
  workers.forEach((w, i) => (pids[`load generator ${i + 1}`] = w.pid));
  let before = snapshot(pids);
  const windowStarts = setTimeout(
    () => {
      before = snapshot(pids);
      for (const pid of [...(profile?.pids ?? []), ...(profile ? workers.map((w) => w.pid) : [])]) {
        if (pid !== undefined) process.kill(pid, 'SIGUSR2');
      }
    },
    startWall + config.warmupSeconds * 1000 - Date.now(),
  );
  const ticker = setInterval(() => {
    const p = [...progress.values()];
    const sum = (k: 'sent' | 'received' | 'lost' | 'outstanding') => p.reduce((a, x) => a + x[k], 0);
    const elapsed = Math.round((Date.now() - startWall) / 1000);
    say(
      `  ${elapsed}s: sent ${sum('sent')}, answered ${sum('received')}, lost ${sum('lost')}, outstanding ${sum('outstanding')}`,
    );
  }, 5000);
  try {
    const done = (await Promise.all(results)).map((m) => m.result);
    const cpu = cpuUse(before, snapshot(pids), cpus().length);
    for (const w of workers) if (w.connected) w.disconnect();
    return { ...merge(config, done, options.hopNames), cpu };
  } finally {
    clearInterval(ticker);
    clearTimeout(windowStarts);
  }
}

function nextMessage<T extends WorkerMessage['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<WorkerMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      if (m.type === type) {
        cleanup();
        resolve(m as Extract<WorkerMessage, { type: T }>);
      } else if (m.type === 'failed') {
        cleanup();
        reject(new Error(`load generator failed: ${m.error}`));
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`load generator exited (code ${code}) before '${type}'`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function merge(
  config: BenchConfig,
  results: readonly LoadResult[],
  hopNames: readonly string[],
): Omit<LoadReport, 'cpu'> {
  const total = (f: (r: LoadResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const histogram = (f: (r: LoadResult) => HistogramData | undefined) => {
    const h = new Histogram();
    for (const r of results) {
      const d = f(r);
      if (d) h.merge(d);
    }
    return h;
  };
  const verdicts: Record<string, number> = {};
  for (const r of results) for (const [v, n] of Object.entries(r.verdicts)) verdicts[v] = (verdicts[v] ?? 0) + n;
  const windowStartMs = results[0].windowStartMs;
  const lastReplyMs = Math.max(...results.map((r) => r.lastReplyMs));
  const measuredReceived = total((r) => r.measuredReceived);
  const slots = Math.max(...results.map((r) => r.timeline.length));
  return {
    sent: total((r) => r.sent),
    received: total((r) => r.received),
    lost: total((r) => r.lost),
    lostWarmup: total((r) => r.lostWarmup),
    verdicts,
    firstUnexpected: results.find((r) => r.firstUnexpected)?.firstUnexpected,
    measured: total((r) => r.measured),
    measuredReceived,
    offeredPerSecond: total((r) => r.measured) / config.seconds,
    achievedPerSecond: measuredReceived / (Math.max(lastReplyMs - windowStartMs, 1) / 1000),
    firstMeasured: results[0].firstMeasured,
    latency: {
      scheduled: histogram((r) => r.latency.scheduled).summary(),
      actual: histogram((r) => r.latency.actual).summary(),
    },
    hops: hopNames.map((name, k) => {
      const h = histogram((r) => r.hops[k]);
      return { name, summary: h.summary(), data: h.data() };
    }),
    toLastStamp: histogram((r) => r.toLastStamp).data(),
    timeline: Array.from({ length: slots }, (_, k) => {
      const h = histogram((r) => r.timeline[k]?.scheduled);
      return {
        at: k * TIMELINE_SECONDS,
        perSecond:
          total((r) => r.timeline[k]?.received ?? 0) /
          Math.min(TIMELINE_SECONDS, config.seconds - k * TIMELINE_SECONDS),
        p50: h.quantile(0.5),
        p99: h.quantile(0.99),
      };
    }),
  };
}
