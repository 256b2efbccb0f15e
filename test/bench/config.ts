import { env, readConfig } from '@warden/platform';

export const MODES = ['latency', 'capacity', 'contention', 'idle', 'sustained'] as const;
export type BenchMode = (typeof MODES)[number];
export type Only = 'both' | 'warden' | 'floor' | 'projection' | 'gateway';

/** What `npm run bench` reads from its environment (see docs/benchmarks.md). */
export interface BenchConfig {
  readonly mode: BenchMode;
  /**
   * Latency and contention: the rates measured one after the other (BENCH_RATES, or BENCH_RATE
   * alone). Sustained: BENCH_RATE if given, else empty (the rate
   * comes from a capacity search in the same invocation). Capacity and idle: empty.
   */
  readonly rates: readonly number[];
  /** Measured window of each load (after its warm-up), and of the idle mode. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Concurrent run ids (Kafka keys) the requests are spread over. */
  readonly runs: number;
  /** Gate requests per run before its id is replaced by a fresh one (runs are bounded, like an agent's). */
  readonly stepsPerRun: number;
  /** Load-generator processes (each with its own client), sharing the rate; 0 = one per 2,500/s. */
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
  /** Gate chains (three events each: reservation, decision, settlement) the projection section feeds the trace service. */
  readonly projectionRequests: number;
  /** Events per second offered while the projection section samples lag. */
  readonly projectionRate: number;
  /**
   * The gateway section (latency mode, or BENCH_ONLY=gateway): requests per path, through POST
   * /v1/gate and through the SDK over Kafka, on the Warden stack (0 skips it and the gateway).
   */
  readonly gatewayRequests: number;
  /** The gateway section's requests in flight (closed loop: each lane sends its next when answered). */
  readonly gatewayConcurrency: number;
  /** The idle section of a Warden run: seconds of CPU sampled with no load (0 skips it). */
  readonly idleSeconds: number;
  /** Seconds the idle section waits after the stack is up before it samples. */
  readonly idleSettleSeconds: number;
  /** The capacity search (capacity mode, and sustained mode without BENCH_RATE). */
  readonly capacity: {
    readonly startRate: number;
    readonly maxRate: number;
    /** Bisection stops when the failing and passing rates are within this many percent. */
    readonly resolutionPercent: number;
    /** Measured window of each step (after its warm-up). */
    readonly stepSeconds: number;
  };
  /** BENCH_PORT_BASE: the services' HTTP ports are the first free ones from here; unset, any free ports. */
  readonly portBase?: number;
  /** Contention mode: the core the CPU hog is pinned to (taskset), or undefined to let the scheduler move it. */
  readonly hogCore?: number;
}

const DEFAULTS: Record<BenchMode, { rates: string; seconds: number; only: Only }> = {
  latency: { rates: '200,500', seconds: 20, only: 'both' },
  capacity: { rates: '', seconds: 20, only: 'both' },
  contention: { rates: '200', seconds: 20, only: 'both' },
  idle: { rates: '', seconds: 60, only: 'warden' },
  sustained: { rates: '', seconds: 600, only: 'warden' },
};

const RATE_RANGE = { min: 1, max: 100_000 };

/** BENCH_RATES: comma-separated integers in range, or `fallback` when unset. */
const rateList = (fallback: string) => ({
  read: (e: Record<string, string | undefined>) => {
    if (!e.BENCH_RATES?.trim() && fallback === '') return [];
    return env
      .list('BENCH_RATES', fallback)
      .read(e)
      .map((item) => env.int('BENCH_RATES', undefined, RATE_RANGE).read({ BENCH_RATES: item }));
  },
});

/** An integer variable that may be unset. */
const optionalInt = (name: string, range: { min: number; max: number }) => ({
  read: (e: Record<string, string | undefined>) =>
    e[name]?.trim() ? env.int(name, undefined, range).read(e) : undefined,
});

export function readBenchConfig(source: Record<string, string | undefined> = process.env): BenchConfig {
  const { mode } = readConfig({ mode: env.oneOf('BENCH_MODE', MODES, 'latency') }, source);
  const d = DEFAULTS[mode];
  const c = readConfig(
    {
      rate: optionalInt('BENCH_RATE', RATE_RANGE),
      rateList: rateList(d.rates),
      seconds: env.int('BENCH_SECONDS', d.seconds, { min: 1, max: 3600 }),
      warmupSeconds: env.int('BENCH_WARMUP_SECONDS', 5, { min: 0, max: 600 }),
      runs: env.int('BENCH_RUNS', 64, { min: 1, max: 100_000 }),
      stepsPerRun: env.int('BENCH_STEPS_PER_RUN', 200, { min: 1, max: 1_000_000 }),
      clients: env.int('BENCH_CLIENTS', 0, { min: 0, max: 16 }),
      timeoutMs: env.int('BENCH_TIMEOUT_MS', 10_000, { min: 100, max: 120_000 }),
      partitions: env.int('WARDEN_PARTITIONS', 6, { min: 1, max: 1000 }),
      only: env.oneOf('BENCH_ONLY', ['both', 'warden', 'floor', 'projection', 'gateway'] as const, d.only),
      keepTopics: env.oneOf('BENCH_KEEP_TOPICS', ['0', '1'] as const, '0'),
      profile: env.oneOf('BENCH_PROFILE', ['0', '1'] as const, '0'),
      kafkaPort: env.port('KAFKA_PORT', 19092),
      killswitchEngages: env.int('BENCH_KILLSWITCH_ENGAGES', 200, { min: 0, max: 10_000 }),
      budgets: env.oneOf('BENCH_BUDGETS', ['run', 'tenant'] as const, 'run'),
      database: env.string('BENCH_DATABASE', 'warden_bench'),
      projectionRequests: env.int('BENCH_PROJECTION_REQUESTS', 40_000, { min: 100, max: 10_000_000 }),
      projectionRate: env.int('BENCH_PROJECTION_RATE', 5_000, { min: 1, max: 1_000_000 }),
      gatewayRequests: env.int('BENCH_GATEWAY_REQUESTS', 2000, { min: 0, max: 1_000_000 }),
      gatewayConcurrency: env.int('BENCH_GATEWAY_CONCURRENCY', 8, { min: 1, max: 256 }),
      idleSeconds: env.int('BENCH_IDLE_SECONDS', 15, { min: 0, max: 3600 }),
      idleSettleSeconds: env.int('BENCH_IDLE_SETTLE_SECONDS', 30, { min: 0, max: 600 }),
      startRate: env.int('BENCH_CAPACITY_START', 50, RATE_RANGE),
      maxRate: env.int('BENCH_CAPACITY_MAX', 5000, RATE_RANGE),
      resolutionPercent: env.int('BENCH_CAPACITY_RESOLUTION', 10, { min: 1, max: 100 }),
      stepSeconds: env.int('BENCH_STEP_SECONDS', 15, { min: 1, max: 3600 }),
      hogCore: optionalInt('BENCH_HOG_CORE', { min: 0, max: 1023 }),
      portBase: optionalInt('BENCH_PORT_BASE', { min: 1024, max: 65_000 }),
    },
    source,
  );
  const { rate, rateList: list, startRate, maxRate, resolutionPercent, stepSeconds, ...rest } = c;
  if (maxRate < startRate) {
    throw new Error(`BENCH_CAPACITY_MAX (${maxRate}) must be >= BENCH_CAPACITY_START (${startRate})`);
  }
  if (rest.only === 'gateway' && rest.gatewayRequests === 0)
    throw new Error('BENCH_ONLY=gateway runs only the gateway section: BENCH_GATEWAY_REQUESTS must be > 0');
  const rates = mode === 'capacity' || mode === 'idle' ? [] : rate !== undefined ? [rate] : list;
  return {
    ...rest,
    mode,
    rates,
    // The idle mode is nothing but the idle section, for BENCH_SECONDS.
    idleSeconds: mode === 'idle' ? rest.seconds : rest.idleSeconds,
    capacity: { startRate, maxRate, resolutionPercent, stepSeconds },
    keepTopics: c.keepTopics === '1',
    profile: c.profile === '1',
  };
}

/** Whether this invocation runs the gateway section (and so starts the gateway beside the six services). */
export function withGatewaySection(config: BenchConfig): boolean {
  if (config.gatewayRequests === 0) return false;
  return (
    config.only === 'gateway' || (config.mode === 'latency' && (config.only === 'both' || config.only === 'warden'))
  );
}

/** Load generators for a rate: BENCH_CLIENTS, or one per 2,500 requests/s (what one keeps up with here). */
export function clientsFor(config: BenchConfig, rate: number): number {
  return config.clients || Math.max(1, Math.ceil(rate / 2500));
}
