import { env, readConfig } from '@warden/platform';

export type BenchMode = 'latency' | 'sustained';
export type Only = 'both' | 'warden' | 'floor' | 'projection';

/** What `npm run bench` reads from its environment (see docs/benchmarks.md). */
export interface BenchConfig {
  readonly mode: BenchMode;
  /** Requests per second, sent on schedule whatever is outstanding (open loop). */
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Concurrent run ids (Kafka keys) the requests are spread over. */
  readonly runs: number;
  /** Gate requests per run before its id is replaced by a fresh one (runs are bounded, like an agent's). */
  readonly stepsPerRun: number;
  /** Load-generator processes (each with its own client), sharing the rate. */
  readonly clients: number;
  readonly timeoutMs: number;
  readonly partitions: number;
  readonly only: Only;
  readonly keepTopics: boolean;
  /** Write a V8 CPU profile of every service (node --cpu-prof) next to its log. */
  readonly profile: boolean;
  readonly kafkaPort: number;
  /** Kill switches engaged after the load to measure propagation (0 skips it). */
  readonly killswitchEngages: number;
  /** Which budgets the bench tenant has: `run` (the service's run defaults only) or `tenant` (also agent and tenant budgets: the ledger hop). */
  readonly budgets: 'run' | 'tenant';
  /** The Postgres database the bench drops and creates (another name lets two benches share a server). */
  readonly database: string;
  /** Gate chains (five events each) the projection section feeds the trace service. */
  readonly projectionRequests: number;
  /** Events per second offered while the projection section samples lag. */
  readonly projectionRate: number;
}

const DEFAULTS: Record<BenchMode, { rate: number; seconds: number; only: Only }> = {
  latency: { rate: 1000, seconds: 20, only: 'both' },
  sustained: { rate: 5000, seconds: 600, only: 'warden' },
};

export function readBenchConfig(source: Record<string, string | undefined> = process.env): BenchConfig {
  const { mode } = readConfig({ mode: env.oneOf('BENCH_MODE', ['latency', 'sustained'] as const, 'latency') }, source);
  const d = DEFAULTS[mode];
  const c = readConfig(
    {
      rate: env.int('BENCH_RATE', d.rate, { min: 1, max: 100_000 }),
      seconds: env.int('BENCH_SECONDS', d.seconds, { min: 1, max: 3600 }),
      warmupSeconds: env.int('BENCH_WARMUP_SECONDS', 5, { min: 0, max: 600 }),
      runs: env.int('BENCH_RUNS', 64, { min: 1, max: 100_000 }),
      stepsPerRun: env.int('BENCH_STEPS_PER_RUN', 200, { min: 1, max: 1_000_000 }),
      clients: env.int('BENCH_CLIENTS', 0, { min: 0, max: 16 }),
      timeoutMs: env.int('BENCH_TIMEOUT_MS', 10_000, { min: 100, max: 120_000 }),
      partitions: env.int('WARDEN_PARTITIONS', 6, { min: 1, max: 1000 }),
      only: env.oneOf('BENCH_ONLY', ['both', 'warden', 'floor', 'projection'] as const, d.only),
      keepTopics: env.oneOf('BENCH_KEEP_TOPICS', ['0', '1'] as const, '0'),
      profile: env.oneOf('BENCH_PROFILE', ['0', '1'] as const, '0'),
      kafkaPort: env.port('KAFKA_PORT', 19092),
      killswitchEngages: env.int('BENCH_KILLSWITCH_ENGAGES', 200, { min: 0, max: 10_000 }),
      budgets: env.oneOf('BENCH_BUDGETS', ['run', 'tenant'] as const, 'run'),
      database: env.string('BENCH_DATABASE', 'warden_bench'),
      projectionRequests: env.int('BENCH_PROJECTION_REQUESTS', 40_000, { min: 100, max: 10_000_000 }),
      projectionRate: env.int('BENCH_PROJECTION_RATE', 5_000, { min: 1, max: 1_000_000 }),
    },
    source,
  );
  // One generator keeps up with about 2,500 requests/s on this kind of machine; more share the rate.
  const clients = c.clients || Math.max(1, Math.ceil(c.rate / 2500));
  return { ...c, mode, clients, keepTopics: c.keepTopics === '1', profile: c.profile === '1' };
}
