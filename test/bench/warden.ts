import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WardenClient } from '@warden/sdk';
import { SERVICES, Stack, startStack } from '@warden/local-stack';
import { BENCH_AGENT, registerBenchAgent, waitUntilAllowed } from './agent';
import { defineBenchBudgets } from './budgets';
import { BenchConfig, withGatewaySection } from './config';
import { waitForQuiet } from './cpu';
import { IdleReport, measureIdle } from './idle';
import { freePorts } from '@warden/platform/testing';
import { listenerPid } from './infra';
import { LoadOptions, LoadReport, LoadSpec, runLoad, Watched } from './load';
import { readBack, ReadBack } from './readback';
import { metricsReader, pgWritesReader } from './traffic';

export const WARDEN_HOPS = ['request -> policy decided', 'policy decided -> agent'];

/** Where the bench keeps what it started, so Ctrl-C can stop it. */
export interface Running {
  stack?: Stack;
  readonly children: Set<ChildProcess>;
}

export interface WardenOptions {
  readonly brokers: readonly string[];
  readonly prefix: string;
  readonly databaseUrl: string;
  readonly logDir: string;
}

/**
 * The Warden side: the six services as separate processes on a fresh topic prefix and an empty
 * database, with a registered and active bench agent; then as many loads through the SDK as the
 * mode asks for, and at the end one read-back of what the gate decided for each.
 */
export class WardenSide {
  private readonly loads: LoadReport[] = [];

  private constructor(
    private readonly config: BenchConfig,
    private readonly options: WardenOptions,
    readonly stack: Stack,
    private readonly say: (line: string) => void,
    private readonly children: Set<ChildProcess>,
  ) {}

  static async start(
    config: BenchConfig,
    options: WardenOptions,
    running: Running,
    say: (line: string) => void,
  ): Promise<WardenSide> {
    const { brokers, prefix } = options;
    const profileDir = config.profile ? join(options.logDir, 'profiles') : undefined;
    const gateway = withGatewaySection(config);
    say(`warden: starting the six services${gateway ? ' and the gateway' : ''} (logs in ${options.logDir})...`);
    const ports = await freePorts(SERVICES.length + 1, config.portBase);
    const kek = randomBytes(32);
    running.stack = await startStack({
      brokers: brokers.join(','),
      ports: { ...Object.fromEntries(SERVICES.map((s, i) => [s, ports[i]])), gateway: ports[SERVICES.length] },
      optional: gateway ? ['gateway'] : [],
      databaseUrl: options.databaseUrl,
      topicPrefix: prefix,
      logDir: options.logDir,
      env: {
        // The load workers send no agent tokens (token verification is not in these figures); the
        // registry seals its keys and policy opens the decision-token key with this KEK.
        WARDEN_KEY_ENCRYPTION_KEY: kek.toString('base64'),
        POLICY_AGENT_TOKENS: 'optional',
        ...(profileDir
          ? {
              NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(__dirname, 'profiler.js')}`.trim(),
              BENCH_PROFILE_DIR: profileDir,
            }
          : {}),
      },
    });
    await registerBenchAgent(running.stack.urls.registry);
    if (config.budgets === 'tenant') await defineBenchBudgets(running.stack.urls.budget);
    const probe = await WardenClient.connect({
      brokers,
      topicPrefix: prefix,
      clientId: 'bench-probe',
      agent: BENCH_AGENT,
    });
    try {
      await waitUntilAllowed(probe, 60_000);
    } finally {
      await probe.close();
    }
    say(`warden: agent ${BENCH_AGENT.agentId} registered, active and allowed`);
    return new WardenSide(config, options, running.stack, say, running.children);
  }

  /**
   * The six services (with their /metrics), the broker, and Postgres (cpu.ts sums its processes).
   * Not the gateway, when it runs for the gateway section: the loads measure the six (its idle
   * cost shows as "anything else").
   */
  watch(): Record<string, Watched> {
    const out: Record<string, Watched> = { broker: { pid: listenerPid(this.config.kafkaPort), rss: true } };
    for (const name of SERVICES) {
      const child = this.stack.processes[name];
      out[name] = {
        pid: child.pid,
        stats: metricsReader(this.stack.urls[name]),
        rss: true,
      };
    }
    return out;
  }

  /** The idle section: after `settleSeconds` (and the machine going quiet), CPU over `seconds` with no load. */
  async idle(seconds: number, settleSeconds: number): Promise<IdleReport> {
    this.say(`warden idle: settling ${settleSeconds} s, then ${seconds} s with no load`);
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    await waitForQuiet(20, 30_000);
    return measureIdle(this.watch(), seconds, this.options.prefix);
  }

  async load(spec: LoadSpec, beside?: LoadOptions['beside']): Promise<LoadReport> {
    const profileDir = this.config.profile ? join(this.options.logDir, 'profiles') : undefined;
    const services = SERVICES.map((s) => this.stack.processes[s].pid);
    const report = await runLoad(
      this.config,
      spec,
      { kind: 'warden', brokers: this.options.brokers, topicPrefix: this.options.prefix, agent: BENCH_AGENT },
      {
        hopNames: WARDEN_HOPS,
        say: this.say,
        children: this.children,
        watch: this.watch(),
        prefix: this.options.prefix,
        postgres: pgWritesReader(this.options.databaseUrl),
        profile: profileDir ? { dir: profileDir, pids: services } : undefined,
        beside,
      },
    );
    this.loads.push(report);
    return report;
  }

  /** Services whose /health/ready is not OK, with what they said. */
  async unhealthy(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [service, url] of Object.entries(this.stack.urls)) {
      try {
        const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) out[service] = await res.text();
      } catch (error) {
        out[service] = (error as Error).message;
      }
    }
    return out;
  }

  /** The budget share and the deadline audit of every load so far, by label. */
  async readBack(): Promise<Record<string, ReadBack>> {
    if (this.loads.length === 0) return {};
    this.say('warden: reading budget.reservations and gate.decisions back (budget share, deadline audit)...');
    return readBack(this.options.brokers, this.options.prefix, this.loads);
  }
}
