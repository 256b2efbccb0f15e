import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { BenchConfig } from './config';
import { Summary } from './histogram';
import { ROOT } from './infra';
import { LoadReport } from './load';
import { WardenRun } from './warden';

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

/** The targets of /work/shared/ARCHITECTURE.md that this bench measures. */
export interface Check {
  readonly target: string;
  readonly value: string;
  readonly met: boolean;
}

export function checks(config: BenchConfig, warden?: WardenRun, floor?: LoadReport): Check[] {
  const out: Check[] = [];
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  if (warden && config.mode === 'latency') {
    const s = warden.load.latency.scheduled;
    out.push({ target: `p50 <= 5 ms at ${config.rate}/s`, value: ms(s.p50), met: s.p50 <= 5 });
    out.push({ target: `p99 <= 15 ms at ${config.rate}/s`, value: ms(s.p99), met: s.p99 <= 15 });
    if (floor) {
      const f = floor.latency.scheduled;
      out.push({
        target: 'p50 within 1.3x of the floor',
        value: `${(s.p50 / f.p50).toFixed(2)}x`,
        met: s.p50 / f.p50 <= 1.3,
      });
      out.push({
        target: 'p99 within 1.3x of the floor',
        value: `${(s.p99 / f.p99).toFixed(2)}x`,
        met: s.p99 / f.p99 <= 1.3,
      });
    }
  }
  if (warden && config.mode === 'sustained') {
    const l = warden.load;
    out.push({
      target: `>= 5000 decisions/s sustained for ${config.seconds} s`,
      value: `${l.achievedPerSecond.toFixed(0)}/s`,
      met: l.achievedPerSecond >= 5000 * 0.99 && config.rate >= 5000,
    });
    out.push({ target: 'nothing lost', value: `${l.lost} lost`, met: l.lost === 0 });
  }
  return out;
}

/** Why the exit code is not 0: losses, or anything but `allow` for the correctly registered agent. */
export function problems(warden?: WardenRun, floor?: LoadReport): string[] {
  const out: string[] = [];
  if (warden) {
    const l = warden.load;
    if (l.lost > 0) out.push(`warden: ${l.lost} request(s) got no decision (${l.lostWarmup} during warm-up)`);
    const other = Object.entries(l.verdicts).filter(([v]) => v !== 'allow');
    if (other.length > 0) {
      const u = l.firstUnexpected!;
      const hint =
        u.verdict === 'expired'
          ? 'requests outlived their deadline: the gate fell behind the load'
          : 'the bench agent is not set up as the load expects (registration, profile, budget)';
      out.push(
        `warden: verdicts other than allow (${other.map(([v, n]) => `${v} ${n}`).join(', ')}); first: ${u.verdict} "${u.reason}" -> ${hint}`,
      );
    }
  }
  for (const [service, said] of Object.entries(warden?.unhealthy ?? {})) {
    out.push(`warden: ${service} was not ready after the load (see its log): ${said}`);
  }
  if (floor && floor.lost > 0)
    out.push(`floor: ${floor.lost} request(s) got no reply (${floor.lostWarmup} during warm-up)`);
  return out;
}

export function renderTable(config: BenchConfig, machine: Machine, warden?: WardenRun, floor?: LoadReport): string {
  const rows: string[][] = [];
  const cols = [warden?.load, floor];
  const f = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
  const ratio = (a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '';
  const row = (label: string, get: (l: LoadReport) => number, digits = 2, withRatio = false) => {
    const [w, fl] = cols.map((c) => (c ? get(c) : undefined));
    rows.push([
      label,
      w === undefined ? '-' : f(w, digits),
      fl === undefined ? '-' : f(fl, digits),
      withRatio ? ratio(w, fl) : '',
    ]);
  };
  const latency = (title: string, pick: (l: LoadReport) => Summary) => {
    rows.push([title, '', '', '']);
    for (const q of ['p50', 'p95', 'p99', 'p999', 'max'] as const) row(`  ${q}`, (l) => pick(l)[q], 2, true);
  };
  rows.push(['', 'Warden', 'floor', 'Warden/floor']);
  row('requests sent (incl. warm-up)', (l) => l.sent, 0);
  row('requests measured', (l) => l.measured, 0);
  row('answered', (l) => l.received, 0);
  row('lost (no answer in time)', (l) => l.lost, 0);
  row('offered rate (/s)', (l) => l.offeredPerSecond, 0);
  row('achieved throughput (/s)', (l) => l.achievedPerSecond, 0, true);
  latency('latency from scheduled send (ms)', (l) => l.latency.scheduled);
  latency('latency from actual send (ms)', (l) => l.latency.actual);
  const width = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('   '));
  const out = [
    `Warden bench (${config.mode}): ${config.rate} req/s open loop, ${config.seconds} s after ${config.warmupSeconds} s warm-up, ` +
      `${config.runs} concurrent runs of ${config.stepsPerRun} steps over ${config.partitions} partitions, ${config.clients} load generator(s), ` +
      `budgets: ${config.budgets}`,
    `machine: ${machine.cores} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.java}, Kafka ${machine.kafka}`,
    '',
    ...lines,
  ];
  if (warden) {
    const v = Object.entries(warden.load.verdicts)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out.push('', `Warden verdicts: ${v || 'none'}`);
    const b = warden.budget;
    out.push(
      '',
      'Warden stages (wall clock, 1 ms resolution; p50 / p99 ms)',
      b
        ? `  ${'request -> budget handled (reservedAtMs)'.padEnd(40)} ${f(b.toReserved.p50)} / ${f(b.toReserved.p99)}   (${b.sampled} sampled)`
        : `  request -> budget handled: not measured (${warden.budgetError})`,
      ...(b?.toRunStage
        ? [`  ${'request -> budget run stage (heldAtMs)'.padEnd(40)} ${f(b.toRunStage.p50)} / ${f(b.toRunStage.p99)}`]
        : []),
      ...warden.load.hops.map((h) => `  ${h.name.padEnd(40)} ${f(h.summary.p50)} / ${f(h.summary.p99)}`),
    );
    if (b) {
      out.push(
        `  budget stage share of request -> decided: ${f(b.shareOfMeans * 100, 0)} % of the mean, ${f(b.shareOfMedians * 100, 0)} % of the median`,
      );
    }
  }
  if (floor) {
    out.push('', 'floor stages (wall clock, 1 ms resolution; p50 / p99 ms)');
    out.push(...floor.hops.map((h) => `  ${h.name.padEnd(40)} ${f(h.summary.p50)} / ${f(h.summary.p99)}`));
  }
  const cpuLine = (name: string, l: LoadReport) => {
    const procs = Object.entries(l.cpu.processes)
      .sort((a, b) => b[1] - a[1])
      .map(([p, v]) => `${p} ${v.toFixed(0)}`)
      .join(', ');
    return [
      `  ${name}: machine ${l.cpu.machineBusy.toFixed(0)} % busy: the processes below ${l.cpu.watchedShare.toFixed(0)} %, ` +
        `anything else ${Math.max(0, l.cpu.machineBusy - l.cpu.watchedShare).toFixed(0)} %`,
      `    ${procs}`,
    ];
  };
  out.push('', `CPU over the measured window (% of one core; ${machine.cores} cores)`);
  if (warden) out.push(...cpuLine('Warden', warden.load));
  if (floor) out.push(...cpuLine('floor', floor));
  if (warden && config.mode === 'sustained') {
    out.push('', 'Warden timeline (10 s windows by scheduled send: answered/s, p50, p99 ms)');
    for (const t of warden.load.timeline)
      out.push(`  ${String(t.at).padStart(4)} s  ${f(t.perSecond, 0).padStart(6)}/s  ${f(t.p50)}  ${f(t.p99)}`);
  }
  const c = checks(config, warden, floor);
  if (c.length > 0) {
    out.push('', 'targets (/work/shared/ARCHITECTURE.md)');
    for (const x of c) out.push(`  ${x.met ? 'met   ' : 'MISSED'}  ${x.target}: ${x.value}`);
  }
  return out.join('\n');
}
