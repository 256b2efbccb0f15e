import { cpus } from 'node:os';
import { cpuUse, snapshot } from './cpu';
import type { Watched } from './load';
import { subtract, trafficPer } from './traffic';

/** CPU of a stack with no load, after it settled: per process and in total, broker and Postgres included. */
export interface IdleReport {
  readonly seconds: number;
  /** Machine busy (% of all cores) over the sample. */
  readonly machineBusy: number;
  /** Per process: % of one core, and its Kafka requests per second (idle polling) where readable. */
  readonly processes: Record<string, { readonly cpuPercent: number; readonly requestsPerSecond?: number }>;
  /** Everything above together, as % of one core. */
  readonly totalPercent: number;
  /** Consumer groups that fetched during the sample. */
  readonly fetchingGroups: number;
  readonly requestsPerSecond: number;
}

/** Samples the watched processes (and all Postgres processes) for `seconds` with no load. */
export async function measureIdle(
  watch: Record<string, Watched>,
  seconds: number,
  prefix: string,
): Promise<IdleReport> {
  const pids = Object.fromEntries(Object.entries(watch).map(([n, w]) => [n, w.pid]));
  const read = () =>
    Promise.all(Object.entries(watch).map(async ([n, w]) => [n, await w.stats?.().catch(() => undefined)] as const));
  const before = snapshot(pids);
  const statsBefore = await read();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = snapshot(pids);
  const statsAfter = new Map(await read());
  const cpu = cpuUse(before, after, cpus().length);
  const processes: IdleReport['processes'] = {};
  const groups = new Set<string>();
  let requests = 0;
  for (const [name, percent] of Object.entries(cpu.processes)) processes[name] = { cpuPercent: percent };
  for (const [name, s] of statsBefore) {
    const e = statsAfter.get(name);
    if (!s || !e) continue;
    const window = subtract(e, s);
    for (const [group, apis] of Object.entries(window.requests)) if (apis.Fetch) groups.add(group);
    const perSecond = trafficPer(window, cpu.seconds, prefix).requests;
    requests += perSecond;
    processes[name] = { cpuPercent: cpu.processes[name] ?? 0, requestsPerSecond: perSecond };
  }
  return {
    seconds: cpu.seconds,
    machineBusy: cpu.machineBusy,
    processes,
    totalPercent: Math.round(Object.values(cpu.processes).reduce((a, b) => a + b, 0) * 10) / 10,
    fetchingGroups: groups.size,
    requestsPerSecond: requests,
  };
}
