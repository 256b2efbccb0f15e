import { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { configOrExit } from '@warden/platform';
import { Stack } from '@warden/local-stack';
import { WardenClient } from '@warden/sdk';
import { BENCH_AGENT } from './agent';
import { searchCapacity } from './capacity';
import { BenchConfig, readBenchConfig, withGatewaySection } from './config';
import { waitForQuiet } from './cpu';
import { FloorSide, stopChild } from './floor';
import { renderGateway, runGatewayBench } from './gateway';
import { startHog } from './hog';
import { deleteByPrefix, ensureKafka, freshBenchDatabase, ROOT, stopKafka } from './infra';
import { KillSwitchReport, renderKillSwitch, runKillSwitchBench } from './killswitch';
import { LoadOptions, LoadReport, LoadSpec } from './load';
import { renderPolicyEval, runPolicyEvalBench } from './policy-eval';
import { renderProjection, runProjectionBench } from './projection';
import { ReadBack } from './readback';
import { CapacityReport, checks, describeMachine, Pair, problems, render, Results, WardenLoad } from './report';
import { stepVerdict, TARGETS } from './targets';
import { Running, WardenSide } from './warden';

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

/** What both sides can run: loads at a rate, with processes started beside them. */
interface Side {
  load(spec: LoadSpec, beside?: LoadOptions['beside']): Promise<LoadReport>;
}

/**
 * The loads a mode runs on one side (Warden or the floor), labelled with `tag` (`w`, `f`):
 * latency and contention one load per rate (contention with a CPU hog running through each),
 * capacity a search, sustained one long load at BENCH_RATE or 80 % of a capacity search.
 */
class Plan {
  constructor(
    private readonly config: BenchConfig,
    private readonly children: Set<ChildProcess>,
  ) {}

  spec(label: string, rate: number, seconds = this.config.seconds): LoadSpec {
    return { label, rate, seconds, warmupSeconds: this.config.warmupSeconds };
  }

  async perRate(side: Side, tag: string): Promise<LoadReport[]> {
    const out: LoadReport[] = [];
    for (const [i, rate] of this.config.rates.entries()) {
      if (this.config.mode !== 'contention') {
        out.push(await side.load(this.spec(`${tag}${i + 1}`, rate)));
        continue;
      }
      let hog: ChildProcess | undefined;
      const startIt = () => {
        hog = startHog(this.config.hogCore, this.children);
        say(
          `${tag}: CPU hog started (pid ${hog.pid}, ${this.config.hogCore === undefined ? 'unpinned' : `core ${this.config.hogCore}`})`,
        );
        return { 'CPU hog': { pid: hog.pid, beside: true } };
      };
      try {
        out.push(await side.load(this.spec(`${tag}${i + 1}`, rate), startIt));
      } finally {
        if (hog) await stopChild(hog);
      }
    }
    return out;
  }

  async capacity(side: Side, tag: string, name: string): Promise<CapacityReport> {
    const loads: CapacityReport['loads'][number][] = [];
    const result = await searchCapacity(this.config.capacity, async (rate) => {
      if (loads.at(-1)?.passed === false) {
        // After a failed step the backlog may take a while: drain longer than between passing steps.
        const busy = await waitForQuiet(20, 120_000);
        say(`${name} capacity: machine ${busy.toFixed(0)} % busy after draining the failed step`);
      }
      const load = await side.load(this.spec(`${tag}c${loads.length + 1}`, rate, this.config.capacity.stepSeconds));
      const verdict = stepVerdict(load);
      say(`${name} capacity: ${rate}/s ${verdict.passed ? 'passed' : 'FAILED'} (${verdict.why})`);
      loads.push({ rate, ...verdict, load });
      return verdict.passed;
    });
    say(`${name} capacity: ${result.capacity}/s`);
    return { ...result, loads };
  }
}

/**
 * `npm run bench`: the gate end to end through the six services, and the same load through a
 * bare kafkajs pipeline with the same three hops (the floor), in one invocation on this machine,
 * in the mode BENCH_MODE names (latency, capacity, contention, idle, sustained). Prints the
 * results, writes .warden/bench/<timestamp>.json, and exits non-zero when a request was lost or
 * allowed late, or the bench agent was not allowed. See docs/benchmarks.md.
 */
async function main(): Promise<number> {
  const config = configOrExit(() => readBenchConfig());
  const machine = describeMachine();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const prefix = `bench.${Date.now().toString(36)}.`;
  const outDir = join(ROOT, '.warden', 'bench');
  const logDir = join(outDir, `${stamp}-logs`);
  mkdirSync(outDir, { recursive: true });
  const brokers = [`127.0.0.1:${config.kafkaPort}`];
  const running: Running = { children: new Set() };
  const plan = new Plan(config, running.children);
  let floorSide: FloorSide | undefined;
  let startedKafka = false;

  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await floorSide?.stop();
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
      if (startedKafka) stopKafka(config.kafkaPort);
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`${signal}: stopping everything...`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const failures: string[] = [];
  const attempt = async (what: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
      say(`${what} failed: ${(error as Error).stack ?? error}`);
    }
  };
  const results: { -readonly [K in keyof Results]: Results[K] } = {};
  let floorLoads: LoadReport[] = [];
  let wardenLoads: LoadReport[] = [];
  let floorCapacity: CapacityReport | undefined;
  let wardenCapacity: CapacityReport | undefined;
  let sustained: { rate: number; rateFrom: 'BENCH_RATE' | 'capacity'; load?: LoadReport } | undefined;
  let readBacks: Record<string, ReadBack> = {};
  const withFloor =
    (config.only === 'both' || config.only === 'floor') && ['latency', 'capacity', 'contention'].includes(config.mode);
  const withWarden = config.only === 'both' || config.only === 'warden' || config.only === 'gateway';
  // BENCH_ONLY=gateway: the stack and the gateway section, nothing else.
  const loadsToo = config.only !== 'gateway';
  try {
    if (config.mode === 'latency' && (config.only === 'both' || config.only === 'warden')) {
      await attempt('policy evaluation', async () => {
        say('policy evaluation in process: 100-rule CEL bundle vs the equivalent Cedar policy set');
        results.policyEvaluation = runPolicyEvalBench();
        if (!results.policyEvaluation.decisionsAgree) throw new Error('CEL and Cedar disagree on the bench requests');
      });
    }
    startedKafka = await ensureKafka(config.kafkaPort, say);
    if (withFloor) {
      say(`floor: bare kafkajs pipeline, 3 hops, ${config.partitions} partitions`);
      await attempt('floor', async () => {
        floorSide = await FloorSide.start(config, brokers, prefix, say, running.children);
        if (config.mode === 'capacity') floorCapacity = await plan.capacity(floorSide, 'f', 'floor');
        else floorLoads = await plan.perRate(floorSide, 'f');
      });
      await floorSide?.stop();
      floorSide = undefined;
    }
    if (config.mode === 'latency' && (config.only === 'both' || config.only === 'projection')) {
      await attempt('projection', async () => {
        results.projection = await runProjectionBench(
          {
            brokers,
            prefix,
            databaseUrl: await freshBenchDatabase(`${config.database}_projection`),
            logDir,
            partitions: config.partitions,
            requests: config.projectionRequests,
            rate: config.projectionRate,
            profileDir: config.profile ? join(logDir, 'profiles') : undefined,
            portBase: config.portBase,
          },
          running.children,
          say,
        );
      });
    }
    if (withWarden) {
      let warden: WardenSide | undefined;
      await attempt('warden', async () => {
        const databaseUrl = await freshBenchDatabase(config.database);
        warden = await WardenSide.start(config, { brokers, prefix, databaseUrl, logDir }, running, say);
        if (!loadsToo) return;
        if (config.idleSeconds > 0) results.idle = await warden.idle(config.idleSeconds, config.idleSettleSeconds);
        if (config.mode === 'latency' || config.mode === 'contention') wardenLoads = await plan.perRate(warden, 'w');
        if (config.mode === 'capacity') wardenCapacity = await plan.capacity(warden, 'w', 'Warden');
        if (config.mode === 'sustained') {
          const given = config.rates[0];
          if (given === undefined) wardenCapacity = await plan.capacity(warden, 'w', 'Warden');
          const capacity = wardenCapacity?.capacity ?? 0;
          if (given === undefined && capacity === 0)
            throw new Error('the capacity search found no rate that passed: set BENCH_RATE');
          const rate = given ?? Math.max(1, Math.floor(capacity * TARGETS.sustained.shareOfCapacity));
          sustained = { rate, rateFrom: given === undefined ? 'capacity' : 'BENCH_RATE' };
          say(`sustained: ${rate}/s for ${config.seconds} s`);
          sustained.load = await warden.load(plan.spec('s1', rate));
        }
      });
      if (warden && withGatewaySection(config)) {
        const side = warden;
        await attempt('gateway', async () => {
          const busy = await waitForQuiet(20, 120_000);
          say(`gateway: machine ${busy.toFixed(0)} % busy after the loads drained`);
          const watched = side.watch();
          results.gateway = await runGatewayBench(
            {
              brokers,
              prefix,
              registryUrl: side.stack.urls.registry,
              gatewayUrl: side.stack.urls.gateway!,
              requests: config.gatewayRequests,
              concurrency: config.gatewayConcurrency,
              timeoutMs: config.timeoutMs,
              stepsPerRun: config.stepsPerRun,
              pids: {
                ...Object.fromEntries(Object.entries(watched).map(([name, w]) => [name, w.pid])),
                gateway: side.stack.processes.gateway?.pid,
              },
              machineBusyBefore: busy,
            },
            say,
          );
        });
      }
      if (warden && config.mode !== 'idle') {
        const side = warden;
        if (loadsToo)
          await attempt('killswitch', async () => {
            results.killswitch = await killSwitchAfterLoad(config, side, brokers, prefix);
          });
        await attempt('read-back', async () => {
          readBacks = await side.readBack();
        });
        results.unhealthy = await side.unhealthy();
      }
    }
  } finally {
    await cleanup();
  }

  const warden = (l: LoadReport | undefined): WardenLoad | undefined => l && { ...l, readBack: readBacks[l.label] };
  const pairs = (): Pair[] =>
    config.rates.map((rate, i) => ({ rate, warden: warden(wardenLoads[i]), floor: floorLoads[i] }));
  if (config.mode === 'latency' && loadsToo) results.latency = pairs();
  if (config.mode === 'contention') results.contention = { hogCore: config.hogCore, pairs: pairs() };
  const withReadBack = (c: CapacityReport | undefined) =>
    c && { ...c, loads: c.loads.map((s) => ({ ...s, load: warden(s.load)! })) };
  if (config.mode === 'capacity') results.capacity = { warden: withReadBack(wardenCapacity), floor: floorCapacity };
  if (sustained) {
    results.sustained = { rate: sustained.rate, rateFrom: sustained.rateFrom, warden: warden(sustained.load) };
    if (wardenCapacity) results.capacity = { warden: withReadBack(wardenCapacity) };
  }

  const file = join(outDir, `${stamp}.json`);
  const found = [...failures, ...problems(results)];
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        loadAverageAfter: loadavg(),
        config,
        prefix,
        ...results,
        checks: checks(config, results),
        problems: found,
      },
      null,
      2,
    ),
  );
  const sections = [
    ...(config.only === 'projection' ? [] : [render(config, machine, results)]),
    ...(results.projection ? [renderProjection(results.projection)] : []),
    ...(results.policyEvaluation ? [renderPolicyEval(results.policyEvaluation)] : []),
    ...(results.gateway ? [renderGateway(results.gateway)] : []),
    ...(results.killswitch ? [renderKillSwitch(results.killswitch)] : []),
  ];
  process.stdout.write(`\n${sections.join('\n\n')}\n\nresult: ${file}\n`);
  for (const p of found) process.stdout.write(`FAILED: ${p}\n`);
  return found.length > 0 ? 1 : 0;
}

/**
 * Kill-switch propagation is a property of a working stack, not of the backlog the load left
 * behind: let every service drain first (the report says how busy the machine still was).
 */
async function killSwitchAfterLoad(
  config: BenchConfig,
  side: WardenSide,
  brokers: readonly string[],
  prefix: string,
): Promise<KillSwitchReport | undefined> {
  if (config.killswitchEngages === 0) return undefined;
  const busy = await waitForQuiet(20, 120_000);
  say(`killswitch: machine ${busy.toFixed(0)} % busy after the load drained`);
  const client = await WardenClient.connect({
    brokers,
    topicPrefix: prefix,
    clientId: 'bench-killswitch',
    agent: BENCH_AGENT,
  });
  try {
    return await runKillSwitchBench(side.stack.urls.killswitch, client, config.killswitchEngages, busy, say);
  } finally {
    await client.close();
  }
}

void main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  },
);
