import { readdirSync, readFileSync } from 'node:fs';

/** CPU use over the measured window, from /proc: per watched process and for the whole machine. */
export interface CpuUse {
  readonly seconds: number;
  /** Percent of one core, per process name. */
  readonly processes: Record<string, number>;
  /** Core-milliseconds used over the window, per process name (10 ms resolution). */
  readonly coreMs: Record<string, number>;
  /** Percent of all cores busy (user + system + ...), whoever used them. */
  readonly machineBusy: number;
  /** Percent of all cores used by the watched processes. */
  readonly watchedShare: number;
}

const TICKS_PER_SECOND = 100;

/** The name under which every `postgres` process of the machine is summed. */
export const POSTGRES = 'postgres (all processes)';

interface Snapshot {
  readonly at: number;
  readonly processes: Record<string, number>;
  readonly busy: number;
  readonly total: number;
}

export function snapshot(pids: Record<string, number | undefined>): Snapshot {
  const processes: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const ticks = pid === undefined ? undefined : processTicks(pid);
    if (ticks !== undefined) processes[name] = ticks;
  }
  const postgres = postgresTicks();
  if (postgres > 0) processes[POSTGRES] = postgres;
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { at: Date.now(), processes, busy: total - idle, total };
}

export function cpuUse(before: Snapshot, after: Snapshot, cores: number): CpuUse {
  const seconds = (after.at - before.at) / 1000;
  const processes: Record<string, number> = {};
  const coreMs: Record<string, number> = {};
  let watched = 0;
  for (const [name, ticks] of Object.entries(after.processes)) {
    const used = Math.max(0, ticks - (before.processes[name] ?? ticks)) / TICKS_PER_SECOND;
    watched += used;
    processes[name] = Math.round((used / seconds) * 1000) / 10;
    coreMs[name] = used * 1000;
  }
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    seconds,
    processes,
    coreMs,
    machineBusy: round(((after.busy - before.busy) / Math.max(after.total - before.total, 1)) * 100),
    watchedShare: round((watched / (seconds * cores)) * 100),
  };
}

/** The resident set of a process in MiB (undefined once it has ended). */
export function rssMiB(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    return undefined;
  }
}

/** Postgres serves every user of the machine: its processes are summed (backends come and go). */
function postgresTicks(): number {
  let sum = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') sum += processTicks(Number(entry)) ?? 0;
    } catch {
      // The process ended while we looked.
    }
  }
  return sum;
}

/** utime + stime of a process, in clock ticks. */
function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Waits until the machine has been mostly idle for a second (at most `timeoutMs`), so a run
 * does not start while services are still settling; returns the last second's busy percent.
 */
export async function waitForQuiet(maxBusy: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const before = snapshot({});
    await new Promise((r) => setTimeout(r, 1000));
    const busy = cpuUse(before, snapshot({}), 1).machineBusy;
    if (busy <= maxBusy || Date.now() > until) return busy;
  }
}
