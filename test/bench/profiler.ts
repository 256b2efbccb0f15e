import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Preloaded (node --require) into each service and load generator with BENCH_PROFILE=1: starts
 * sampling the CPU on the first SIGUSR2 (the bench sends it when a load's measured window opens) and writes a
 * .cpuprofile (Chrome DevTools or speedscope open it) into BENCH_PROFILE_DIR on exit. Node does
 * not accept --cpu-prof in NODE_OPTIONS, and a whole-life profile would be mostly start-up.
 */
const dir = process.env.BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  // Later loads send SIGUSR2 again: keep listening (with no listener the signal would end the process).
  let started = false;
  process.on('SIGUSR2', () => {
    if (started) return;
    started = true;
    session.post('Profiler.start');
  });
  process.once('exit', () => {
    // The in-process inspector session answers synchronously, so this completes before exit.
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      mkdirSync(dir, { recursive: true });
      const name = `${process.env.BENCH_PROFILE_NAME ?? process.env.WARDEN_INSTANCE_ID ?? 'process'}-${process.pid}.cpuprofile`;
      writeFileSync(join(dir, name), JSON.stringify(result.profile));
    });
  });
}
