import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ActionKind,
  BudgetReservedSchema,
  BudgetSettledSchema,
  create,
  DecisionContextSchema,
  encode,
  EvaluationSchema,
  GateDecidedSchema,
  GateRequestedSchema,
  Message,
  MoneySchema,
  ReservationRefSchema,
  StateVersionsSchema,
  StepCompletedSchema,
  Topic,
  TopicName,
  topicName,
  Verdict,
} from '@warden/contracts';
import { callerHeaders, devAuthEnv, KafkajsPort, Logger, RecordOut, provisionTopics } from '@warden/platform';
import { requestsProjection, runsProjection } from '@warden/trace-read-models';
import { cpuUse, CpuUse, POSTGRES, snapshot } from './cpu';
import { stopChild } from './floor';
import { freePorts } from '@warden/platform/testing';
import { ROOT } from './infra';
import { TARGETS } from './targets';

/** The trace projections' throughput into Postgres, live and during a rebuild (docs/benchmarks.md). */
export interface ProjectionReport {
  readonly events: number;
  readonly requests: number;
  readonly live: {
    /** Events offered per second while lag was sampled. */
    readonly offeredPerSecond: number;
    /** Projection lag (events not yet applied, all trace projections together) sampled every 250 ms. */
    readonly lag: { readonly p50: number; readonly p99: number; readonly max: number; readonly samples: number };
    /** A burst published as fast as possible: events applied per second until caught up. */
    readonly burstPerSecond: number;
  };
  /** Per projection rebuilt alone, then all together: input events per second until caught up. */
  readonly rebuild: readonly {
    readonly projection: string;
    readonly events: number;
    readonly seconds: number;
    readonly perSecond: number;
    readonly cpu: CpuUse;
  }[];
}

export interface ProjectionBenchOptions {
  readonly brokers: readonly string[];
  readonly prefix: string;
  readonly databaseUrl: string;
  readonly logDir: string;
  readonly partitions: number;
  /** Gate requests to project, EVENTS_PER_REQUEST events each. */
  readonly requests: number;
  /** Events per second offered while lag is sampled (the first half of the requests). */
  readonly rate: number;
  /** With BENCH_PROFILE=1: where the trace service writes a CPU profile of the rebuilds. */
  readonly profileDir?: string;
  /** BENCH_PORT_BASE: where the trace service's HTTP port is looked for. */
  readonly portBase?: number;
}

const platformAdmin = { subject: 'bench', roles: 'platform-admin', tenant: 'bench' };

/**
 * Starts the trace service alone on fresh topics, feeds it gate chains (the budget stage's
 * reservation with the request of record, the decision, the settlement with the outcome) and measures: lag at a fixed rate, catch-up speed on a burst,
 * and rebuild speed of each projection and of all of them at once.
 */
export async function runProjectionBench(
  options: ProjectionBenchOptions,
  children: Set<ChildProcess>,
  say: (line: string) => void,
): Promise<ProjectionReport> {
  const prefix = `${options.prefix}proj.`;
  const port = new KafkajsPort({
    brokers: [...options.brokers],
    clientId: 'bench-projection',
    logger: new Logger('bench', 'error'),
  });
  await port.connect();
  await provisionTopics(port, prefix, options.partitions);
  const [httpPort] = await freePorts(1, options.portBase);
  const url = `http://127.0.0.1:${httpPort}`;
  mkdirSync(options.logDir, { recursive: true });
  const log = createWriteStream(join(options.logDir, 'trace-projection.log'), { flags: 'a' });
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', 'trace', 'src', 'main.js')], {
    cwd: ROOT,
    env: {
      ...process.env,
      // The bench calls the admin API with development tokens (ADR 0010).
      ...devAuthEnv(),
      KAFKA_BROKERS: options.brokers.join(','),
      DATABASE_URL: options.databaseUrl,
      WARDEN_TOPIC_PREFIX: prefix,
      WARDEN_PARTITIONS: String(options.partitions),
      WARDEN_INSTANCE_ID: 'trace-bench',
      TRACE_HTTP_PORT: String(httpPort),
      LOG_LEVEL: 'warn',
      ...(options.profileDir
        ? {
            NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(__dirname, 'profiler.js')}`.trim(),
            BENCH_PROFILE_DIR: options.profileDir,
          }
        : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  children.add(child);
  try {
    await until(async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok === true, 60_000);
    const headers = await callerHeaders(platformAdmin);
    const states = async () => {
      const res = await fetch(`${url}/admin/projections`, { headers });
      if (!res.ok) throw new Error(`GET /admin/projections: ${res.status} ${await res.text()}`);
      return (await res.json()) as { name: string; lag: number; status: string }[];
    };
    const lag = async (names?: readonly string[]) =>
      (await states()).filter((s) => !names || names.includes(s.name)).reduce((n, s) => n + s.lag, 0);
    // A projection being rebuilt reports `rebuilding` until it replays again, then its lag falls to 0.
    const caughtUp = (names?: readonly string[]) =>
      until(async () => {
        const mine = (await states()).filter((s) => !names || names.includes(s.name));
        return mine.every((s) => s.status === 'running' && s.lag === 0);
      }, 600_000);

    const records = chains(prefix, options.requests);
    const half = Math.floor(options.requests / 2) * EVENTS_PER_REQUEST;
    say(`projection: ${records.length} events (${options.requests} gate requests) on ${options.partitions} partitions`);

    say(`projection: live, ${options.rate} events/s for ${Math.round(half / options.rate)} s, sampling lag`);
    const samples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await lag());
        await sleep(250);
      }
    })();
    const start = Date.now();
    for (let sent = 0; sent < half;) {
      const due = Math.min(half, Math.floor(((Date.now() - start) / 1000) * options.rate));
      if (due > sent) {
        await port.publish(records.slice(sent, due));
        sent = due;
      }
      await sleep(10);
    }
    await caughtUp();
    sampling = false;
    await sampler;

    say('projection: live burst, the other half as fast as it can be published');
    const burstStart = Date.now();
    for (let i = half; i < records.length; i += 5000) await port.publish(records.slice(i, i + 5000));
    await caughtUp();
    const burstSeconds = (Date.now() - burstStart) / 1000;

    const rebuild: ProjectionReport['rebuild'][number][] = [];
    if (options.profileDir) child.kill('SIGUSR2');
    const perTopic = new Map<string, number>();
    for (const r of records) perTopic.set(r.topic, (perTopic.get(r.topic) ?? 0) + 1);
    // The input of a rebuild: every record on the topics the projection reads.
    const topicsOf: Record<string, readonly TopicName[]> = {
      requests: requestsProjection.topics,
      runs: runsProjection.topics,
    };
    const eventsOf = (name: string) =>
      (topicsOf[name] ?? []).reduce((n, t) => n + (perTopic.get(topicName(prefix, t)) ?? 0), 0);
    for (const group of [['requests'], ['runs'], ['requests', 'runs']]) {
      say(`projection: rebuilding ${group.join(' + ')}`);
      const before = snapshot({ trace: child.pid });
      const t0 = Date.now();
      for (const name of group) {
        await fetch(`${url}/admin/projections/${name}/rebuild`, { method: 'POST', headers });
      }
      await caughtUp(group);
      const seconds = (Date.now() - t0) / 1000;
      const events = group.reduce((n, name) => n + eventsOf(name), 0);
      rebuild.push({
        projection: group.join(' + '),
        events,
        seconds,
        perSecond: events / seconds,
        cpu: cpuUse(before, snapshot({ trace: child.pid }), 2),
      });
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    return {
      events: records.length,
      requests: options.requests,
      live: {
        offeredPerSecond: options.rate,
        lag: { p50: q(0.5), p99: q(0.99), max: sorted.at(-1) ?? 0, samples: samples.length },
        burstPerSecond: (records.length - half) / burstSeconds,
      },
      rebuild,
    };
  } finally {
    await stopChild(child);
    children.delete(child);
    await port.close();
  }
}

const EVENTS_PER_REQUEST = 3;

/**
 * Gate chains on the allow path, as trace reads them (docs/adr/0070), in publish order: the budget
 * stage's reservation (the request of record embedded), policy's decision, and the budget stage's
 * settlement carrying the agent's outcome as it accepted it. The agent's raw gate.requests and
 * gate.outcomes records are not fed: trace does not read them. 64 concurrent runs of 200 steps,
 * like the gate bench's load.
 */
export function chains(prefix: string, requests: number): RecordOut[] {
  const out: RecordOut[] = [];
  const t = Date.UTC(2026, 0, 1);
  const rec = (
    topic: TopicName,
    data: Message,
    time: number,
    run: { tenantId: string; agentId: string; runId: string },
  ) => ({
    topic: topicName(prefix, topic),
    ...encode({
      id: `${data.$typeName}-${out.length}`,
      type: data.$typeName,
      source: 'bench',
      time,
      key: run.runId,
      ...run,
      data,
    }),
  });
  for (let i = 0; i < requests; i++) {
    const run = {
      tenantId: `tenant-${i % 4}`,
      agentId: `agent-${i % 16}`,
      runId: `run-${Math.floor(i / 12_800)}-${i % 64}`,
    };
    const requestId = `req-${i}`;
    const at = t + i;
    const request = create(GateRequestedSchema, {
      requestId,
      idempotencyKey: `idem-${i}`,
      stepId: `step-${i}`,
      attempt: 1,
      requestedAtMs: at,
      deadlineMs: at + 10_000,
      ...run,
      actionKind: ActionKind.TOOL_CALL,
      tool: 'tickets',
      action: 'read',
      estimatedTokens: 1,
    });
    const actualCost = create(MoneySchema, { currency: 'USD', micros: 10 });
    const step = { requestId, stepId: request.stepId, idempotencyKey: request.idempotencyKey, ...run };
    out.push(
      rec(
        Topic.budgetReservations,
        create(BudgetReservedSchema, { reservationId: `res-${i}`, request, reservedTokens: 1, reservedAtMs: at + 1 }),
        at + 1,
        run,
      ),
      rec(
        Topic.gateDecisions,
        create(GateDecidedSchema, {
          decisionId: `d-${i}`,
          requestId,
          ...run,
          verdict: Verdict.ALLOW,
          reason: 'all admission checks passed',
          decidedAtMs: at + 2,
          request,
          final: true,
          context: create(DecisionContextSchema, {
            evaluations: ['warden.deadline', 'warden.killswitch', 'warden.registry', 'warden.budget'].map((policyId) =>
              create(EvaluationSchema, { policyId, version: 'builtin-1', result: 'pass' }),
            ),
            reservation: create(ReservationRefSchema, { reservationId: `res-${i}`, granted: true, reservedTokens: 1 }),
            versions: create(StateVersionsSchema, { policyBundleVersion: 'builtin-1', registryOffset: 2 }),
          }),
        }),
        at + 2,
        run,
      ),
      rec(
        Topic.budgetReservations,
        create(BudgetSettledSchema, {
          reservationId: `res-${i}`,
          ...step,
          actualTokens: 1,
          actualCost,
          settledAtMs: at + 4,
          outcome: create(StepCompletedSchema, { ...step, actualTokens: 1, actualCost, completedAtMs: at + 3 }),
        }),
        at + 4,
        run,
      ),
    );
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The section `npm run bench` prints, with the rebuild target (TARGETS). */
export function renderProjection(r: ProjectionReport): string {
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const all = r.rebuild.at(-1);
  const lines = [
    `Projection throughput (trace alone; ${n(r.events)} events = ${n(r.requests)} gate chains of ${EVENTS_PER_REQUEST})`,
    `  live at ${n(r.live.offeredPerSecond)} events/s offered: lag p50 ${n(r.live.lag.p50)}, p99 ${n(r.live.lag.p99)}, ` +
      `max ${n(r.live.lag.max)} events (${r.live.lag.samples} samples every 250 ms)`,
    `  live burst (published as fast as possible): ${n(r.live.burstPerSecond)} events/s applied`,
    ...r.rebuild.map(
      (b) =>
        `  rebuild ${b.projection.padEnd(16)} ${n(b.events).padStart(9)} events in ${b.seconds.toFixed(1)} s: ` +
        `${n(b.perSecond)} events/s (trace ${b.cpu.processes.trace?.toFixed(0) ?? '?'} %, postgres ` +
        `${b.cpu.processes[POSTGRES]?.toFixed(0) ?? '?'} % of one core; machine ${b.cpu.machineBusy.toFixed(0)} % busy)`,
    ),
  ];
  const requests = r.rebuild.find((b) => b.projection === 'requests');
  if (requests) {
    lines.push(
      `  ${requests.perSecond >= TARGETS.rebuildEventsPerSecond ? 'met   ' : 'MISSED'}  rebuild >= ${n(TARGETS.rebuildEventsPerSecond)} events/s (requests projection): ${n(requests.perSecond)}/s` +
        (all ? `; all together ${n(all.perSecond)}/s` : ''),
    );
  }
  return lines.join('\n');
}
