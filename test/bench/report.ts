import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { CapacityResult } from './capacity';
import { BenchConfig } from './config';
import { Summary } from './histogram';
import { GatewayReport, gatewayProblems } from './gateway';
import { IdleReport } from './idle';
import { ROOT } from './infra';
import { KillSwitchReport } from './killswitch';
import { LoadCost, LoadReport } from './load';
import { PolicyEvalReport } from './policy-eval';
import { ProjectionReport } from './projection';
import { ReadBack } from './readback';
import { rssGrowth, TARGETS } from './targets';

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly java: string;
  readonly kafka: string;
  readonly loadAverage: readonly number[];
}

export function describeMachine(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const version = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const java = `${version.stderr ?? ''}${version.stdout ?? ''}`.split('\n')[0].trim() || 'unknown';
  const pom = readFileSync(join(ROOT, 'deploy', 'local', 'pom.xml'), 'utf8');
  return {
    cores: cpus().length,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    java,
    kafka: `${/<kafka.version>([^<]*)</.exec(pom)?.[1] ?? '?'} (single-node KRaft)`,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** A Warden load with what the read-back found for it. */
export type WardenLoad = LoadReport & { readonly readBack?: ReadBack };

/** Warden and the floor at one rate. */
export interface Pair {
  readonly rate: number;
  readonly warden?: WardenLoad;
  readonly floor?: LoadReport;
}

export interface CapacityReport extends CapacityResult {
  /** Each step's load and why it passed or failed. */
  readonly loads: readonly {
    readonly rate: number;
    readonly passed: boolean;
    readonly why: string;
    readonly load: LoadReport;
  }[];
}

/** Everything one invocation measured (the JSON file holds it, the text renders it). */
export interface Results {
  readonly idle?: IdleReport;
  /** Latency mode: one pair per rate. */
  readonly latency?: readonly Pair[];
  /** Contention mode: one pair per rate, each load with the CPU hog running. */
  readonly contention?: { readonly hogCore?: number; readonly pairs: readonly Pair[] };
  readonly capacity?: { readonly warden?: CapacityReport; readonly floor?: CapacityReport };
  readonly sustained?: {
    readonly rate: number;
    readonly rateFrom: 'BENCH_RATE' | 'capacity';
    readonly warden?: WardenLoad;
  };
  readonly killswitch?: KillSwitchReport;
  /** The gateway section: POST /v1/gate against the SDK over Kafka on the same stack. */
  readonly gateway?: GatewayReport;
  readonly projection?: ProjectionReport;
  readonly policyEvaluation?: PolicyEvalReport;
  /** Services whose /health/ready was not OK after the loads, with what they said. */
  readonly unhealthy?: Record<string, string>;
}

export interface Check {
  readonly target: string;
  readonly value: string;
  readonly met: boolean;
}

const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
const ratioOf = (a: number, b: number) => a / b;

/** Every target of TARGETS this invocation measured, met or not. */
export function checks(config: BenchConfig, r: Results): Check[] {
  const out: Check[] = [];
  for (const p of r.latency ?? []) {
    if (!p.warden) continue;
    if (p.floor) {
      const [w, f] = [p.warden.latency.scheduled, p.floor.latency.scheduled];
      const p50 = ratioOf(w.p50, f.p50);
      const p99 = ratioOf(w.p99, f.p99);
      out.push({
        target: `p50 <= ${TARGETS.latency.p50Ratio}x the floor's at ${p.rate}/s`,
        value: x(p50),
        met: p50 <= TARGETS.latency.p50Ratio,
      });
      out.push({
        target: `p99 <= ${TARGETS.latency.p99Ratio}x the floor's at ${p.rate}/s`,
        value: x(p99),
        met: p99 <= TARGETS.latency.p99Ratio,
      });
    }
    out.push({ target: `nothing lost at ${p.rate}/s`, value: `${p.warden.lost} lost`, met: p.warden.lost === 0 });
  }
  const cap = r.capacity;
  if (cap?.warden && cap.floor) {
    // A floor that passed no step leaves nothing to compare with: not met.
    const ratio = cap.floor.capacity > 0 ? ratioOf(cap.warden.capacity, cap.floor.capacity) : NaN;
    out.push({
      target: `capacity (p99 <= ${TARGETS.capacity.p99Ms} ms, nothing lost) >= ${TARGETS.capacity.ratio}x the floor's`,
      value: `${cap.warden.capacity}/s against ${cap.floor.capacity}/s = ${x(ratio)}`,
      met: ratio >= TARGETS.capacity.ratio,
    });
  }
  if (r.idle) {
    out.push({
      target: `idle stack <= ${TARGETS.idlePercentOfCore} % of one core, broker included`,
      value: `${r.idle.totalPercent.toFixed(1)} %`,
      met: r.idle.totalPercent <= TARGETS.idlePercentOfCore,
    });
  }
  for (const p of r.contention?.pairs ?? []) {
    const w = p.warden;
    if (!w) continue;
    const churn = joinsOf(w.cost);
    const audit = w.readBack?.audit;
    out.push({ target: `contention at ${p.rate}/s: nothing lost`, value: `${w.lost} lost`, met: w.lost === 0 });
    out.push({
      target: `contention at ${p.rate}/s: no consumer-group churn`,
      value: `${churn} joins during the load`,
      met: churn === 0,
    });
    if (audit) {
      out.push({
        target: `contention at ${p.rate}/s: every request past its deadline fails closed`,
        value: `${
          Object.entries(audit.late)
            .map(([v, n]) => `${n} ${v}`)
            .join(', ') || 'none late'
        }; ${w.lost} failed closed by the SDK`,
        met: audit.allowedLate === 0,
      });
    }
  }
  const s = r.sustained;
  if (s?.warden) {
    const l = s.warden;
    out.push({
      target: `sustained ${TARGETS.sustained.seconds} s at ${TARGETS.sustained.shareOfCapacity * 100} % of capacity`,
      value: `${config.seconds} s at ${s.rate}/s (${s.rateFrom === 'capacity' ? 'from the capacity search' : 'BENCH_RATE'}), ${l.achievedPerSecond.toFixed(0)}/s achieved`,
      met: config.seconds >= TARGETS.sustained.seconds,
    });
    out.push({ target: 'sustained: nothing lost', value: `${l.lost} lost`, met: l.lost === 0 });
    const grew = Object.entries(l.cost.processes).filter(([, c]) => c.rss && rssGrowth(c.rss).flagged);
    out.push({
      target: 'sustained: every service’s memory flat',
      value: grew.length ? grew.map(([n]) => n).join(', ') + ' grew' : 'none grew',
      met: grew.length === 0,
    });
  }
  if (r.killswitch) {
    out.push({
      target: `kill switch engage -> denied p99 <= ${TARGETS.killswitchP99Ms} ms`,
      value: `${r.killswitch.propagation.p99.toFixed(1)} ms`,
      met: r.killswitch.propagation.p99 <= TARGETS.killswitchP99Ms,
    });
  }
  const rebuild = r.projection?.rebuild.find((b) => b.projection === 'requests');
  if (rebuild) {
    out.push({
      target: `trace rebuild >= ${TARGETS.rebuildEventsPerSecond.toLocaleString('en-US')} events/s`,
      value: `${Math.round(rebuild.perSecond).toLocaleString('en-US')}/s`,
      met: rebuild.perSecond >= TARGETS.rebuildEventsPerSecond,
    });
  }
  if (r.policyEvaluation) {
    const v = r.policyEvaluation.cel.perCoreSecond;
    out.push({
      target: `policy evaluation >= ${TARGETS.policyEvaluationsPerCoreSecond.toLocaleString('en-US')}/s per core`,
      value: `${Math.round(v).toLocaleString('en-US')}/s`,
      met: v >= TARGETS.policyEvaluationsPerCoreSecond,
    });
  }
  return out;
}

/** Group joins during a load, over every process of the system under test. */
function joinsOf(cost: LoadCost): number {
  return Object.values(cost.processes).reduce((a, p) => a + Object.values(p.joins ?? {}).reduce((b, n) => b + n, 0), 0);
}

/**
 * Why the exit code is not 0: a request lost or answered other than `allow` outside a capacity
 * search (whose top steps fail by design), a request allowed after its deadline (anywhere), a
 * service not ready after the loads.
 */
export function problems(r: Results): string[] {
  const out: string[] = [];
  const loads = (pairs: readonly Pair[] | undefined) =>
    (pairs ?? []).map((p) => ({ rate: p.rate, w: p.warden, f: p.floor }));
  const all = [
    ...loads(r.latency),
    ...loads(r.contention?.pairs),
    { rate: r.sustained?.rate ?? 0, w: r.sustained?.warden, f: undefined },
  ];
  for (const { rate, w, f } of all) {
    if (w) {
      if (w.lost > 0)
        out.push(`warden at ${rate}/s: ${w.lost} request(s) got no decision (${w.lostWarmup} during warm-up)`);
      const other = Object.entries(w.verdicts).filter(([v]) => v !== 'allow');
      if (other.length > 0) {
        const u = w.firstUnexpected!;
        const hint =
          u.verdict === 'expired'
            ? 'requests outlived their deadline: the gate fell behind the load'
            : 'the bench agent is not set up as the load expects (registration, profile, budget)';
        out.push(
          `warden at ${rate}/s: verdicts other than allow (${other.map(([v, n]) => `${v} ${n}`).join(', ')}); first: ${u.verdict} "${u.reason}" -> ${hint}`,
        );
      }
    }
    if (f && f.lost > 0)
      out.push(`floor at ${rate}/s: ${f.lost} request(s) got no reply (${f.lostWarmup} during warm-up)`);
  }
  const wardenLoads = [
    ...all.map((l) => l.w),
    ...(r.capacity?.warden?.loads.map((s) => s.load as WardenLoad) ?? []),
  ].filter((l): l is WardenLoad => l !== undefined);
  for (const l of wardenLoads) {
    const late = l.readBack?.audit.allowedLate ?? 0;
    if (late > 0) out.push(`warden load ${l.label}: ${late} request(s) ALLOWED after their deadline`);
  }
  for (const [service, said] of Object.entries(r.unhealthy ?? {})) {
    out.push(`warden: ${service} was not ready after the loads (see its log): ${said}`);
  }
  if (r.killswitch && r.killswitch.allowedAfterEngage > 0)
    out.push(`${r.killswitch.allowedAfterEngage} request(s) in scope allowed after the engage call returned`);
  if (r.gateway) out.push(...gatewayProblems(r.gateway));
  return out;
}

const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

function table(rows: string[][]): string[] {
  const width = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('   '));
}

/** Warden against the floor at one rate: counts, latency, stages, verdicts, deadline audit, cost. */
export function renderPair(p: Pair): string {
  const cols = [p.warden, p.floor];
  const rows: string[][] = [['', 'Warden', 'floor', 'Warden/floor']];
  const row = (label: string, get: (l: LoadReport) => number, digits = 2, withRatio = false) => {
    const [w, fl] = cols.map((c) => (c ? get(c) : undefined));
    rows.push([
      label,
      w === undefined ? '-' : f(w, digits),
      fl === undefined ? '-' : f(fl, digits),
      withRatio && w !== undefined && fl !== undefined && fl > 0 ? x(w / fl) : '',
    ]);
  };
  const latency = (title: string, pick: (l: LoadReport) => Summary) => {
    rows.push([title, '', '', '']);
    for (const q of ['p50', 'p95', 'p99', 'p999', 'max'] as const) row(`  ${q}`, (l) => pick(l)[q], 2, true);
  };
  row('requests sent (incl. warm-up)', (l) => l.sent, 0);
  row('requests measured', (l) => l.measured, 0);
  row('answered', (l) => l.received, 0);
  row('lost (no answer in time)', (l) => l.lost, 0);
  row('offered rate (/s)', (l) => l.offeredPerSecond, 0);
  row('achieved throughput (/s)', (l) => l.achievedPerSecond, 0, true);
  latency('latency from scheduled send (ms)', (l) => l.latency.scheduled);
  latency('latency from actual send (ms)', (l) => l.latency.actual);
  row('CPU core-ms per decision (total)', (l) => l.cost.total.coreMs, 2, true);
  row('record deliveries per decision', (l) => l.cost.total.kafka.delivered, 2, true);
  row('records produced per decision', (l) => l.cost.total.kafka.produced, 2, true);
  row('Kafka requests per decision', (l) => l.cost.total.kafka.requests, 2, true);
  const out = [`at ${p.rate}/s`, ...table(rows)];
  const w = p.warden;
  if (w) {
    const v = Object.entries(w.verdicts).map(([k, n]) => `${k} ${n}`);
    out.push('', `Warden verdicts: ${v.join(', ') || 'none'}`);
    const a = w.readBack?.audit;
    if (a) {
      const late = Object.entries(a.late).map(([k, n]) => `${k} ${n}`);
      out.push(
        `Warden deadline audit (gate.decisions): ${a.decided} decided, ${a.undecided} never decided, ${a.duplicates} duplicate(s); ` +
          `decided after the deadline: ${late.join(', ') || 'none'}; allowed late: ${a.allowedLate} (must be 0)`,
      );
    }
    const b = w.readBack?.budget;
    out.push(
      'Warden stages (wall clock, 1 ms resolution; p50 / p99 ms)',
      b
        ? `  ${'request -> budget handled (reservedAtMs)'.padEnd(40)} ${f(b.toReserved.p50)} / ${f(b.toReserved.p99)}   (${b.sampled} sampled)`
        : '  request -> budget handled: not measured',
      ...(b?.toRunStage
        ? [`  ${'request -> budget run stage (heldAtMs)'.padEnd(40)} ${f(b.toRunStage.p50)} / ${f(b.toRunStage.p99)}`]
        : []),
      ...w.hops.map((h) => `  ${h.name.padEnd(40)} ${f(h.summary.p50)} / ${f(h.summary.p99)}`),
    );
    if (b) {
      out.push(
        `  budget stage share of request -> decided: ${f(b.shareOfMeans * 100, 0)} % of the mean, ${f(b.shareOfMedians * 100, 0)} % of the median`,
      );
    }
  }
  if (p.floor) {
    out.push('floor stages (wall clock, 1 ms resolution; p50 / p99 ms)');
    out.push(...p.floor.hops.map((h) => `  ${h.name.padEnd(40)} ${f(h.summary.p50)} / ${f(h.summary.p99)}`));
  }
  if (w) out.push('', ...renderCost('Warden', w));
  if (p.floor) out.push('', ...renderCost('floor', p.floor));
  return out.join('\n');
}

/** The per-process cost of one load: CPU, Kafka traffic per decision, memory, churn, deliveries by group. */
export function renderCost(side: string, l: LoadReport): string[] {
  const c = l.cost;
  const rows: string[][] = [
    [
      `${side} per decision (${c.decisions} in the window)`,
      '% core',
      'core-ms',
      'delivered',
      'produced',
      'produce rq',
      'fetch rq',
      'all rq',
      'joins',
      'RSS MiB',
    ],
  ];
  const entries = Object.entries(c.processes).sort((a, b) => b[1].coreMs - a[1].coreMs);
  for (const [name, p] of entries) {
    const k = p.kafka;
    const joins = p.joins ? Object.values(p.joins).reduce((a, b) => a + b, 0) : undefined;
    rows.push([
      `  ${name}`,
      f(p.cpuPercent, 0),
      f(p.coreMs),
      k ? f(k.delivered) : '',
      k ? f(k.produced) : '',
      k ? f(k.produceRequests) : '',
      k ? f(k.fetchRequests) : '',
      k ? f(k.requests) : '',
      joins === undefined ? '' : String(joins),
      p.rss ? `${f(p.rss.start, 0)} -> ${f(p.rss.end, 0)}` : '',
    ]);
  }
  const t = c.total;
  rows.push([
    '  total (without bench and hog)',
    f(t.cpuPercent, 0),
    f(t.coreMs),
    f(t.kafka.delivered),
    f(t.kafka.produced),
    f(t.kafka.produceRequests),
    f(t.kafka.fetchRequests),
    f(t.kafka.requests),
    '',
    '',
  ]);
  const out = [
    ...table(rows),
    `  machine ${f(l.cpu.machineBusy, 0)} % busy over ${f(l.cpu.seconds, 0)} s: the processes above ${f(l.cpu.watchedShare, 0)} %, anything else ${f(Math.max(0, l.cpu.machineBusy - l.cpu.watchedShare), 0)} %`,
  ];
  if (c.postgres)
    out.push(
      `  Postgres (bench database): ${f(c.postgres.commits)} commits and ${f(c.postgres.rowsWritten)} rows written per decision`,
    );
  if (c.unread.length > 0) out.push(`  not read: ${c.unread.join('; ')}`);
  out.push(`  record deliveries per decision, by process, consumer group and topic (>= 0.01):`);
  for (const [name, p] of entries) {
    for (const [group, topics] of Object.entries(p.kafka?.deliveredBy ?? {})) {
      const shown = Object.entries(topics).filter(([, n]) => n >= 0.005);
      if (shown.length > 0) out.push(`    ${name}: ${group}: ${shown.map(([t, n]) => `${t} ${f(n)}`).join(', ')}`);
    }
  }
  return out;
}

function renderCapacity(side: string, c: CapacityReport): string[] {
  const steps = c.loads.map((s) => `${s.rate}/s ${s.passed ? 'ok' : 'FAILED'} (${s.why})`);
  const top = c.loads.filter((s) => s.passed).sort((a, b) => b.rate - a.rate)[0];
  return [
    `  ${side}: ${c.failedAt === undefined && c.capacity > 0 ? '>= ' : ''}${c.capacity}/s` +
      (c.failedAt !== undefined ? ` (${c.failedAt}/s failed)` : ' (the highest rate tried passed)'),
    `    steps: ${steps.join('; ')}`,
    ...(top ? ['', ...renderCost(`${side} at ${top.rate}/s`, top.load).map((l) => `  ${l}`)] : []),
  ];
}

function renderIdle(i: IdleReport): string[] {
  const procs = Object.entries(i.processes)
    .sort((a, b) => b[1].cpuPercent - a[1].cpuPercent)
    .map(
      ([p, v]) =>
        `${p} ${f(v.cpuPercent, 1)}${v.requestsPerSecond === undefined ? '' : ` (${f(v.requestsPerSecond, 1)} rq/s)`}`,
    );
  return [
    `Warden idle (no load, ${f(i.seconds, 0)} s after settling): ${f(i.totalPercent, 1)} % of one core in total (target <= ${TARGETS.idlePercentOfCore} %); machine ${f(i.machineBusy, 0)} % busy`,
    `  % of one core (Kafka requests/s): ${procs.join(', ')}`,
    `  ${i.fetchingGroups} consumer groups fetching, ${f(i.requestsPerSecond, 1)} Kafka requests/s from the services`,
  ];
}

function renderSustained(s: NonNullable<Results['sustained']>): string[] {
  const out = [
    `Sustained at ${s.rate}/s (${s.rateFrom === 'capacity' ? `${TARGETS.sustained.shareOfCapacity * 100} % of the capacity measured above` : 'BENCH_RATE'})`,
  ];
  const w = s.warden;
  if (!w) return out;
  out.push('  timeline (10 s windows by scheduled send: answered/s, p50, p99 ms)');
  for (const t of w.timeline)
    out.push(`    ${String(t.at).padStart(4)} s  ${f(t.perSecond, 0).padStart(6)}/s  ${f(t.p50)}  ${f(t.p99)}`);
  out.push('  memory (RSS MiB: first quarter of the samples -> last quarter, max)');
  for (const [name, p] of Object.entries(w.cost.processes)) {
    if (!p.rss) continue;
    const g = rssGrowth(p.rss);
    out.push(
      `    ${name.padEnd(20)} ${f(g.fromMiB, 0)} -> ${f(g.toMiB, 0)} (${g.grewMiB >= 0 ? '+' : ''}${f(g.grewPercent, 0)} %), max ${f(p.rss.max, 0)}${g.flagged ? '   GREW' : ''}`,
    );
  }
  return out;
}

export function render(config: BenchConfig, machine: Machine, r: Results): string {
  const out = [
    `Warden bench (${config.mode}): ${config.runs} concurrent runs of ${config.stepsPerRun} steps over ${config.partitions} partitions, ` +
      `warm-up ${config.warmupSeconds} s, budgets: ${config.budgets}`,
    `machine: ${machine.cores} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.java}, Kafka ${machine.kafka}`,
  ];
  const section = (lines: string[]) => out.push('', ...lines);
  if (r.idle) section(renderIdle(r.idle));
  for (const p of r.latency ?? []) section([`== latency, ${config.seconds} s measured`, renderPair(p)]);
  if (r.contention) {
    const pin = r.contention.hogCore === undefined ? 'unpinned' : `pinned to core ${r.contention.hogCore}`;
    for (const p of r.contention.pairs)
      section([`== contention: a CPU hog (busy loop, ${pin}) runs through the load`, renderPair(p)]);
  }
  if (r.capacity) {
    const lines = [
      `== capacity: the highest rate with p99 <= ${TARGETS.capacity.p99Ms} ms and nothing lost ` +
        `(steps of ${config.capacity.stepSeconds} s after ${config.warmupSeconds} s warm-up, resolution ${config.capacity.resolutionPercent} %)`,
    ];
    if (r.capacity.floor) lines.push(...renderCapacity('floor', r.capacity.floor));
    if (r.capacity.warden) lines.push(...renderCapacity('Warden', r.capacity.warden));
    if (r.capacity.warden && r.capacity.floor)
      lines.push(
        `  Warden / floor: ${x(r.capacity.warden.capacity / r.capacity.floor.capacity)} (target >= ${TARGETS.capacity.ratio}x)`,
      );
    section(lines);
  }
  if (r.sustained) {
    section(renderSustained(r.sustained));
    if (r.sustained.warden) section(renderCost('Warden', r.sustained.warden));
  }
  const c = checks(config, r);
  if (c.length > 0)
    section([
      'targets (issue 16; docs/benchmarks.md)',
      ...c.map((k) => `  ${k.met ? 'met   ' : 'MISSED'}  ${k.target}: ${k.value}`),
    ]);
  return out.join('\n');
}
