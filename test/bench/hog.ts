import { ChildProcess, spawn } from 'node:child_process';

/**
 * The contention mode's CPU hog: a child process that busy-loops at normal priority, so it
 * competes for the cores like a noisy neighbour taking one core's worth of time. Unpinned
 * (`core` undefined) the scheduler moves it between cores; pinned (`taskset -c <core>`), it
 * shares that one core with whatever else runs there. Stop it with stopChild.
 */
export function startHog(core: number | undefined, children: Set<ChildProcess>): ChildProcess {
  const loop = [process.execPath, '-e', 'for (;;) {}'];
  const [command, ...args] = core === undefined ? loop : ['taskset', '-c', String(core), ...loop];
  const child = spawn(command, args, { stdio: 'ignore' });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
