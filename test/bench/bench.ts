import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { configOrExit } from '@warden/platform';
import { Stack } from '@warden/local-stack';
import { readBenchConfig } from './config';
import { runFloor, stopChild } from './floor';
import { deleteByPrefix, ensureKafka, freshBenchDatabase, ROOT, stopKafka } from './infra';
import { LoadReport } from './load';
import { PolicyEvalReport, renderPolicyEval, runPolicyEvalBench } from './policy-eval';
import { ProjectionReport, renderProjection, runProjectionBench } from './projection';
import { waitForQuiet } from './cpu';
import { checks, describeMachine, problems, renderTable } from './report';
import { Running, runWarden, WardenRun } from './warden';
import { WardenClient } from '@warden/sdk';
import { BENCH_AGENT } from './agent';
import { KillSwitchReport, renderKillSwitch, runKillSwitchBench } from './killswitch';

/** stack.stop(), then SIGKILL for services still running after 30 s (e.g. one spinning in a loop). */
async function stopStack(stack: Stack, say: (line: string) => void): Promise<Record<string, number | null>> {
  const stopping = stack.stop();
  const timer = setTimeout(() => {
    for (const [service, child] of Object.entries(stack.processes)) {
      if (child.exitCode === null && child.signalCode === null) {
        say(`${service} did not stop within 30 s of SIGTERM: killing it`);
        child.kill('SIGKILL');
      }
    }
  }, 30_000);
  try {
    return await stopping;
  } finally {
    clearTimeout(timer);
  }
}

const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${line}\n`);

/**
 * `npm run bench`: the gate end to end through the six services, and the same load through a
 * bare kafkajs pipeline with the same three hops (the floor), in one invocation on this
 * machine. Prints a table, writes .warden/bench/<timestamp>.json, and exits non-zero when a
 * request was lost or the bench agent was not allowed. See docs/benchmarks.md.
 */
async function main(): Promise<number> {
  const config = configOrExit(() => readBenchConfig());
  const machine = describeMachine();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const prefix = `bench.${Date.now().toString(36)}.`;
  const outDir = join(ROOT, '.warden', 'bench');
  mkdirSync(outDir, { recursive: true });
  const brokers = [`127.0.0.1:${config.kafkaPort}`];
  const running: Running = { children: new Set() };
  let startedKafka = false;

  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await Promise.all([...running.children].map((c) => stopChild(c)));
      if (running.stack) {
        const codes = await stopStack(running.stack, say);
        const bad = Object.entries(codes).filter(([, code]) => code !== 0);
        if (bad.length > 0) say(`services that did not exit 0: ${bad.map(([s, c]) => `${s}=${c}`).join(', ')}`);
        running.stack = undefined;
      }
      if (!config.keepTopics) {
        const n = await deleteByPrefix(brokers, prefix).catch(() => 0);
        say(`deleted ${n} bench topics (${prefix}*)`);
      }
      if (startedKafka) stopKafka();
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping everything...`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  let warden: WardenRun | undefined;
  let floor: LoadReport | undefined;
  let killswitch: KillSwitchReport | undefined;
  let projection: ProjectionReport | undefined;
  const failures: string[] = [];
  const attempt = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
      say(`${what} failed: ${(error as Error).stack ?? error}`);
    }
  };
  let policyEval: PolicyEvalReport | undefined;
  try {
    await attempt('policy evaluation', async () => {
      say('policy evaluation in process: 100-rule CEL bundle vs the equivalent Cedar policy set');
      policyEval = runPolicyEvalBench();
      if (!policyEval.decisionsAgree) throw new Error('CEL and Cedar disagree on the bench requests');
    });
    startedKafka = ensureKafka(say);
    if (config.only === 'both' || config.only === 'floor') {
      say(`floor: bare kafkajs pipeline, 3 hops, ${config.partitions} partitions (topics ${prefix}floor.*)`);
      await attempt('floor', async () => {
        floor = await runFloor(config, brokers, prefix, say, running.children);
      });
    }
    if (config.only === 'both' || config.only === 'projection') {
      await attempt('projection', async () => {
        projection = await runProjectionBench(
          {
            brokers,
            prefix,
            databaseUrl: await freshBenchDatabase('warden_bench_projection'),
            logDir: join(outDir, `${stamp}-logs`),
            partitions: config.partitions,
            requests: config.projectionRequests,
            rate: config.projectionRate,
            profileDir: config.profile ? join(outDir, `${stamp}-logs`, 'profiles') : undefined,
          },
          running.children,
          say,
        );
      });
    }
    if (config.only !== 'floor' && config.only !== 'projection') {
      await attempt('warden', async () => {
        const databaseUrl = await freshBenchDatabase(config.database);
        const logDir = join(outDir, `${stamp}-logs`);
        warden = await runWarden(config, { brokers, prefix, databaseUrl, logDir }, running, say);
      });
      await attempt('killswitch', async () => {
        if (!running.stack || config.killswitchEngages === 0) return;
        // Propagation is a property of a working stack, not of the backlog the load left behind:
        // let every service drain first (the report says how busy the machine still was).
        const busy = await waitForQuiet(20, 120_000);
        say(`killswitch: machine ${busy.toFixed(0)} % busy after the load drained`);
        const client = await WardenClient.connect({
          brokers,
          topicPrefix: prefix,
          clientId: 'bench-killswitch',
          agent: BENCH_AGENT,
        });
        try {
          killswitch = await runKillSwitchBench(
            running.stack.urls.killswitch,
            client,
            config.killswitchEngages,
            busy,
            say,
          );
        } finally {
          await client.close();
        }
      });
    }
  } finally {
    await cleanup();
  }

  const file = join(outDir, `${stamp}.json`);
  const found = [...failures, ...problems(warden, floor)];
  if (killswitch && killswitch.allowedAfterEngage > 0)
    found.push(`${killswitch.allowedAfterEngage} request(s) in scope allowed after the engage call returned`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        loadAverageAfter: loadavg(),
        config,
        prefix,
        warden: warden && { ...warden.load, budget: warden.budget ?? warden.budgetError, unhealthy: warden.unhealthy },
        floor,
        projection,
        ratio: warden &&
          floor && {
            p50: warden.load.latency.scheduled.p50 / floor.latency.scheduled.p50,
            p99: warden.load.latency.scheduled.p99 / floor.latency.scheduled.p99,
            throughput: warden.load.achievedPerSecond / floor.achievedPerSecond,
          },
        checks: checks(config, warden, floor),
        policyEvaluation: policyEval,
        killswitch,
        problems: found,
      },
      null,
      2,
    ),
  );
  const sections = [
    ...(config.only === 'projection' ? [] : [renderTable(config, machine, warden, floor)]),
    ...(projection ? [renderProjection(projection)] : []),
    ...(policyEval ? [renderPolicyEval(policyEval)] : []),
    ...(killswitch ? [renderKillSwitch(killswitch)] : []),
  ];
  process.stdout.write(`\n${sections.join('\n\n')}\n\nresult: ${file}\n`);
  for (const p of found) process.stdout.write(`FAILED: ${p}\n`);
  return found.length > 0 ? 1 : 0;
}

void main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
