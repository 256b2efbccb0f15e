import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_AGENT } from './agent';
import { BenchConfig } from './config';
import type { StageConfig } from './floor-stage';
import { brokerPid, createTopics } from './infra';
import { LoadReport, runLoad } from './load';

export const FLOOR_HOPS = ['request -> stage 1', 'stage 1 -> stage 2', 'stage 2 -> agent'];

/**
 * The floor: a bare kafkajs pipeline with the gate's three hops, each stage its own process,
 * driven by the same open-loop generator at the same rate:
 *   agent -> A -> [stage 1] -> B -> [stage 2] -> C -> agent
 */
export async function runFloor(
  config: BenchConfig,
  brokers: readonly string[],
  prefix: string,
  say: (line: string) => void,
  children: Set<ChildProcess>,
): Promise<LoadReport> {
  const [a, b, c] = ['a', 'b', 'c'].map((t) => `${prefix}floor.${t}`);
  await createTopics(brokers, [a, b, c], config.partitions);
  const stages = [
    { from: a, to: b, stamp: 'bench_t1' },
    { from: b, to: c, stamp: 'bench_t2' },
  ].map((s, i) => {
    const stage: StageConfig = {
      ...s,
      brokers,
      groupId: `${prefix}floor.stage${i + 1}`,
      partitions: config.partitions,
    };
    const child = fork(join(__dirname, 'floor-stage.js'), [], {
      env: { ...process.env, BENCH_STAGE: JSON.stringify(stage) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
  });
  try {
    await Promise.all(stages.map((child, i) => stageReady(child, i + 1)));
    say(`floor: two stage processes ready; ${config.clients} load generator(s) at ${config.rate}/s`);
    return await runLoad(
      config,
      {
        kind: 'floor',
        brokers,
        topicPrefix: prefix,
        floor: { requests: a, replies: c, stamps: ['bench_t1', 'bench_t2'] },
        agent: BENCH_AGENT,
      },
      {
        hopNames: FLOOR_HOPS,
        say,
        children,
        watch: { broker: brokerPid(), 'floor stage 1': stages[0].pid, 'floor stage 2': stages[1].pid },
      },
    );
  } finally {
    await Promise.all(stages.map((child) => stopChild(child)));
  }
}

function stageReady(child: ChildProcess, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`floor stage ${n} not ready after 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`floor stage ${n} exited with code ${code}`)));
    child.on('message', (m: { type: string }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** SIGTERM, then wait for the exit (SIGKILL after 20 s). */
export function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill('SIGTERM');
  });
}
