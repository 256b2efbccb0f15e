import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { KafkaStatsSnapshot } from '@warden/platform';
import { BenchConfig, clientsFor } from './config';
import { CpuUse, cpuUse, rssMiB, snapshot, waitForQuiet } from './cpu';
import { Histogram, HistogramData, Summary } from './histogram';
import type { WorkerConfig, WorkerMessage } from './load-worker';
import { LoadCounts, LoadResult, TIMELINE_SECONDS } from './open-loop';
import { ipcReader, KafkaTraffic, trafficPer, PgWrites, StatsReader, subtract, totalTraffic } from './traffic';

/** One load: a label for its run ids, a rate, and how long it is measured after its warm-up. */
export interface LoadSpec {
  readonly label: string;
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
}

/** What one process cost over a load's measured window. */
export interface ProcessCost {
  /** Percent of one core. */
  readonly cpuPercent: number;
  /** CPU core-milliseconds per decision. */
  readonly coreMs: number;
  /** Its Kafka clients' traffic per decision (processes whose clients the bench can read). */
  readonly kafka?: KafkaTraffic;
  /** Group joins during the whole load (warm-up included), by group: churn. */
  readonly joins?: Record<string, number>;
  /** Resident set in MiB at the window's start and end, the highest, and every sample (each 10 s from the load's start). */
  readonly rss?: {
    readonly start: number;
    readonly end: number;
    readonly max: number;
    readonly samples: readonly number[];
  };
}

/** The measured window's cost, per decision. */
export interface LoadCost {
  /**
   * The window's decisions: answers the generators received in it (warm-up requests answered in it
   * included, since their work falls in it too). Lost requests were often decided all the same, so
   * a lossy load's figures per decision are too high.
   */
  readonly decisions: number;
  /** Every watched process, by name. */
  readonly processes: Record<string, ProcessCost>;
  /** The processes that make up the system under test (not the bench itself, not the CPU hog). */
  readonly total: { readonly coreMs: number; readonly cpuPercent: number; readonly kafka: KafkaTraffic };
  /** The bench database: transactions committed and rows written per decision. */
  readonly postgres?: PgWrites;
  /** Reads that failed (a service that did not answer /metrics), so a reader knows what is missing. */
  readonly unread: readonly string[];
}

/** The merged result of all load generators of one load (Warden or floor). */
export interface LoadReport extends LoadCounts {
  readonly label: string;
  readonly offeredPerSecond: number;
  /** Measured replies over the time from the window's first due send to its last reply. */
  readonly achievedPerSecond: number;
  readonly latency: { readonly scheduled: Summary; readonly actual: Summary };
  /** Stage gaps (wall clock, 1 ms resolution), named by the caller. */
  readonly hops: readonly { readonly name: string; readonly summary: Summary; readonly data: HistogramData }[];
  readonly toLastStamp: HistogramData;
  /** CPU over the measured window (from its first due send until every generator is done). */
  readonly cpu: CpuUse;
  readonly cost: LoadCost;
  readonly timeline: readonly {
    readonly at: number;
    readonly perSecond: number;
    readonly p50: number;
    readonly p99: number;
  }[];
}

export type Shared = Pick<WorkerConfig, 'kind' | 'brokers' | 'topicPrefix' | 'floor' | 'agent'>;

/** A process the bench watches during a load. */
export interface Watched {
  readonly pid?: number;
  /** Its Kafka clients' stats, when the bench can read them. */
  readonly stats?: StatsReader;
  /** Beside the system under test (the bench itself, the CPU hog): not in the totals. */
  readonly beside?: boolean;
  /** Sample its resident set (not for process groups such as Postgres). */
  readonly rss?: boolean;
}

export interface LoadOptions {
  /** Names of the stage gaps the generators measure. */
  readonly hopNames: readonly string[];
  readonly say: (line: string) => void;
  /** Child processes alive, for Ctrl-C. */
  readonly children: Set<ChildProcess>;
  /** Processes whose CPU, Kafka traffic and memory are reported, by name. */
  readonly watch: Record<string, Watched>;
  /** The run's topic prefix, removed from group and topic names in the traffic. */
  readonly prefix: string;
  /** The bench database's write counters (Warden only). */
  readonly postgres?: () => Promise<PgWrites>;
  /** BENCH_PROFILE: where profiles go, and the already-preloaded processes to start profiling with the window. */
  readonly profile?: { readonly dir: string; readonly pids: readonly (number | undefined)[] };
  /** Started after the drain, just before the load (the contention mode's CPU hog): what to watch beside it. */
  readonly beside?: () => Record<string, Watched>;
}

const RSS_SAMPLE_MS = TIMELINE_SECONDS * 1000;

/** Forks the load generators, starts them on one schedule, and merges what they measured. */
export async function runLoad(
  config: BenchConfig,
  spec: LoadSpec,
  shared: Shared,
  options: LoadOptions,
): Promise<LoadReport> {
  const { say, children, profile } = options;
  const clients = clientsFor(config, spec.rate);
  const workers = Array.from({ length: clients }, (_, index) => {
    const worker: WorkerConfig = {
      ...shared,
      label: spec.label,
      index,
      stride: clients,
      rate: spec.rate,
      warmupSeconds: spec.warmupSeconds,
      seconds: spec.seconds,
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
  await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
  // The drain: whatever the previous load or the start-up left behind is handled first.
  const busy = await waitForQuiet(20, 30_000);
  say(`${spec.label}: machine ${busy.toFixed(0)} % busy before the load; ${clients} generator(s) at ${spec.rate}/s`);
  const watch: Record<string, Watched> = {
    ...options.watch,
    ...options.beside?.(),
    bench: { pid: process.pid, beside: true },
  };
  workers.forEach((w, i) => (watch[`load generator ${i + 1}`] = { pid: w.pid, stats: ipcReader(w), rss: true }));
  const window = new Window(watch, options.postgres);
  const atGo = window.read();
  const startWall = Date.now() + 500;
  const results = workers.map((w, i) => {
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') progress.set(i, m);
    });
    return nextMessage(w, 'done');
  });
  for (const w of workers) w.send({ type: 'go', startWall });
  let atStart = window.read();
  const windowStarts = setTimeout(
    () => {
      atStart = window.read();
      for (const pid of [...(profile?.pids ?? []), ...(profile ? workers.map((w) => w.pid) : [])]) {
        if (pid !== undefined) process.kill(pid, 'SIGUSR2');
      }
    },
    startWall + spec.warmupSeconds * 1000 - Date.now(),
  );
  const ticker = setInterval(() => {
    const p = [...progress.values()];
    const sum = (k: 'sent' | 'received' | 'lost' | 'outstanding') => p.reduce((a, x) => a + x[k], 0);
    const elapsed = Math.round((Date.now() - startWall) / 1000);
    say(
      `  ${elapsed}s: sent ${sum('sent')}, answered ${sum('received')}, lost ${sum('lost')}, outstanding ${sum('outstanding')}`,
    );
  }, 5000);
  const sampler = setInterval(() => window.sampleRss(), RSS_SAMPLE_MS);
  try {
    const done = (await Promise.all(results)).map((m) => m.result);
    const atEnd = window.read();
    const merged = merge(spec, done, options.hopNames);
    const [go, start, end] = await Promise.all([atGo, atStart, atEnd]);
    for (const w of workers) if (w.connected) w.disconnect();
    const cpu = cpuUse(start.cpu, end.cpu, cpus().length);
    const decisions = merged.answeredInWindow || merged.measured;
    return { ...merged, cpu, cost: window.cost(go, start, end, cpu, decisions, options.prefix) };
  } finally {
    clearInterval(ticker);
    clearInterval(sampler);
    clearTimeout(windowStarts);
  }
}

interface Reading {
  readonly cpu: ReturnType<typeof snapshot>;
  readonly stats: Record<string, KafkaStatsSnapshot | undefined>;
  readonly rss: Record<string, number | undefined>;
  readonly postgres?: PgWrites;
  readonly failed: readonly string[];
}

/** Readings of every watched process at the edges of a load, and its memory in between. */
class Window {
  private readonly pids: Record<string, number | undefined>;
  private readonly rssSamples: Record<string, number[]> = {};

  constructor(
    private readonly watch: Record<string, Watched>,
    private readonly postgres?: () => Promise<PgWrites>,
  ) {
    this.pids = Object.fromEntries(Object.entries(watch).map(([name, w]) => [name, w.pid]));
  }

  /** CPU and memory now (synchronously), Kafka stats and Postgres counters as soon as they answer. */
  async read(): Promise<Reading> {
    const cpu = snapshot(this.pids);
    const rss = this.sampleRss();
    const failed: string[] = [];
    const stats: Record<string, KafkaStatsSnapshot | undefined> = {};
    const postgres = this.postgres?.().catch((error: Error) => {
      failed.push(`postgres counters: ${error.message}`);
      return undefined;
    });
    await Promise.all(
      Object.entries(this.watch).map(async ([name, w]) => {
        if (!w.stats) return;
        stats[name] = await w.stats().catch((error: Error) => {
          failed.push(`${name}: ${error.message}`);
          return undefined;
        });
      }),
    );
    return { cpu, stats, rss, postgres: await postgres, failed };
  }

  sampleRss(): Record<string, number | undefined> {
    const out: Record<string, number | undefined> = {};
    for (const [name, w] of Object.entries(this.watch)) {
      if (!w.rss || w.pid === undefined) continue;
      const mib = rssMiB(w.pid);
      out[name] = mib;
      if (mib !== undefined) (this.rssSamples[name] ??= []).push(mib);
    }
    return out;
  }

  cost(go: Reading, start: Reading, end: Reading, cpu: CpuUse, decisions: number, prefix: string): LoadCost {
    const processes: Record<string, ProcessCost> = {};
    const per = (n: number) => n / Math.max(decisions, 1);
    const inTotal: KafkaTraffic[] = [];
    let coreMs = 0;
    let cpuPercent = 0;
    for (const [name, w] of Object.entries(this.watch)) {
      const used = cpu.coreMs[name];
      const [s, e, g] = [start.stats[name], end.stats[name], go.stats[name]];
      const kafka = s && e ? trafficPer(subtract(e, s), decisions, prefix) : undefined;
      const joins = g && e ? subtract(e, g).joins : undefined;
      const [rs, re] = [start.rss[name], end.rss[name]];
      if (used === undefined && !kafka) continue;
      processes[name] = {
        cpuPercent: cpu.processes[name] ?? 0,
        coreMs: per(used ?? 0),
        kafka,
        joins,
        rss:
          rs !== undefined && re !== undefined
            ? {
                start: rs,
                end: re,
                max: Math.max(...(this.rssSamples[name] ?? [re])),
                samples: this.rssSamples[name] ?? [],
              }
            : undefined,
      };
      if (w.beside) continue;
      coreMs += used ?? 0;
      cpuPercent += cpu.processes[name] ?? 0;
      if (kafka) inTotal.push(kafka);
    }
    // Postgres is not one process: cpu.ts sums all of them under one name.
    for (const [name, used] of Object.entries(cpu.coreMs)) {
      if (name in this.watch) continue;
      processes[name] = { cpuPercent: cpu.processes[name] ?? 0, coreMs: per(used) };
      coreMs += used;
      cpuPercent += cpu.processes[name] ?? 0;
    }
    const pg =
      start.postgres && end.postgres
        ? {
            commits: per(end.postgres.commits - start.postgres.commits),
            rowsWritten: per(end.postgres.rowsWritten - start.postgres.rowsWritten),
          }
        : undefined;
    return {
      decisions,
      processes,
      total: { coreMs: per(coreMs), cpuPercent: Math.round(cpuPercent * 10) / 10, kafka: totalTraffic(inTotal) },
      postgres: pg,
      unread: [...new Set([...start.failed, ...end.failed])],
    };
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

function merge(spec: LoadSpec, results: readonly LoadResult[], hopNames: readonly string[]) {
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
    label: spec.label,
    sent: total((r) => r.sent),
    received: total((r) => r.received),
    lost: total((r) => r.lost),
    lostWarmup: total((r) => r.lostWarmup),
    verdicts,
    firstUnexpected: results.find((r) => r.firstUnexpected)?.firstUnexpected,
    measured: total((r) => r.measured),
    measuredReceived,
    answeredInWindow: total((r) => r.answeredInWindow),
    offeredPerSecond: total((r) => r.measured) / spec.seconds,
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
          total((r) => r.timeline[k]?.received ?? 0) / Math.min(TIMELINE_SECONDS, spec.seconds - k * TIMELINE_SECONDS),
        p50: h.quantile(0.5),
        p99: h.quantile(0.99),
      };
    }),
  };
}
