import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WardenClient } from '@warden/sdk';
import { SERVICES, Stack, startStack } from '@warden/local-stack';
import { BENCH_AGENT, registerBenchAgent, waitUntilAllowed } from './agent';
import { BudgetShare, measureBudgetShare } from './budget-stage';
import { defineBenchBudgets } from './budgets';
import { BenchConfig } from './config';
import { brokerPid, freePorts } from './infra';
import { LoadReport, runLoad } from './load';

export const WARDEN_HOPS = ['request -> policy decided', 'policy decided -> agent'];

export interface WardenRun {
  readonly load: LoadReport;
  /** Undefined when budget.reservations could not be read back (budgetError says why). */
  readonly budget?: BudgetShare;
  readonly budgetError?: string;
  /** Services whose /health/ready was not OK after the load, with what they said. */
  readonly unhealthy: Record<string, string>;
}

/** Where the bench keeps what it started, so Ctrl-C can stop it. */
export interface Running {
  stack?: Stack;
  readonly children: Set<ChildProcess>;
}

/**
 * The Warden run: the six services as separate processes on a fresh topic prefix and an
 * empty database, a registered and active bench agent, then the open-loop load through the
 * SDK, then the budget stage's share read back from Kafka.
 */
export async function runWarden(
  config: BenchConfig,
  options: { brokers: readonly string[]; prefix: string; databaseUrl: string; logDir: string },
  running: Running,
  say: (line: string) => void,
): Promise<WardenRun> {
  const { brokers, prefix } = options;
  const profileDir = config.profile ? join(options.logDir, 'profiles') : undefined;
  say(`warden: starting the six services (logs in ${options.logDir})...`);
  const ports = await freePorts(SERVICES.length);
  const kek = randomBytes(32);
  running.stack = await startStack({
    brokers: brokers.join(','),
    ports: Object.fromEntries(SERVICES.map((s, i) => [s, ports[i]])),
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
  say(
    `warden: agent ${BENCH_AGENT.agentId} registered, active and allowed; ${config.clients} load generator(s) at ${config.rate}/s`,
  );
  const services = Object.entries(running.stack.processes).map(([name, child]) => [name, child.pid] as const);
  const load = await runLoad(
    config,
    { kind: 'warden', brokers, topicPrefix: prefix, agent: BENCH_AGENT },
    {
      hopNames: WARDEN_HOPS,
      say,
      children: running.children,
      watch: { broker: brokerPid(), ...Object.fromEntries(services) },
      profile: profileDir ? { dir: profileDir, pids: services.map(([, pid]) => pid) } : undefined,
    },
  );
  const unhealthy = await unhealthyServices(running.stack.urls);
  say('warden: reading budget.reservations back for the budget stage share...');
  try {
    const budget = await measureBudgetShare(brokers, prefix, load.firstMeasured, load.toLastStamp);
    return { load, budget, unhealthy };
  } catch (error) {
    return { load, budgetError: (error as Error).message, unhealthy };
  }
}

async function unhealthyServices(urls: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [service, url] of Object.entries(urls)) {
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) out[service] = await res.text();
    } catch (error) {
      out[service] = (error as Error).message;
    }
  }
  return out;
}
