import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_AGENT } from './agent';
import { BenchConfig } from './config';
import type { StageConfig } from './floor-stage';
import { createTopics, listenerPid } from './infra';
import { LoadOptions, LoadReport, LoadSpec, runLoad, Watched } from './load';
import { ipcReader } from './traffic';

export const FLOOR_HOPS = ['request -> stage 1', 'stage 1 -> stage 2', 'stage 2 -> agent'];

/**
 * The floor: a bare kafkajs pipeline with the gate's three hops, each stage its own process,
 * driven by the same open-loop generator at the same rates:
 *   agent -> A -> [stage 1] -> B -> [stage 2] -> C -> agent
 * The stages stay up across the loads of one invocation, like Warden's services.
 */
export class FloorSide {
  private constructor(
    private readonly config: BenchConfig,
    private readonly brokers: readonly string[],
    private readonly prefix: string,
    private readonly topics: { readonly a: string; readonly c: string },
    private readonly stages: readonly ChildProcess[],
    private readonly say: (line: string) => void,
    private readonly children: Set<ChildProcess>,
  ) {}

  static async start(
    config: BenchConfig,
    brokers: readonly string[],
    prefix: string,
    say: (line: string) => void,
    children: Set<ChildProcess>,
  ): Promise<FloorSide> {
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
    const side = new FloorSide(config, brokers, prefix, { a, c }, stages, say, children);
    try {
      await Promise.all(stages.map((child, i) => stageReady(child, i + 1)));
    } catch (error) {
      await side.stop();
      throw error;
    }
    say(`floor: two stage processes ready (topics ${prefix}floor.*)`);
    return side;
  }

  load(spec: LoadSpec, beside?: LoadOptions['beside']): Promise<LoadReport> {
    const stage = (child: ChildProcess): Watched => ({ pid: child.pid, stats: ipcReader(child), rss: true });
    return runLoad(
      this.config,
      spec,
      {
        kind: 'floor',
        brokers: this.brokers,
        topicPrefix: this.prefix,
        floor: { requests: this.topics.a, replies: this.topics.c, stamps: ['bench_t1', 'bench_t2'] },
        agent: BENCH_AGENT,
      },
      {
        hopNames: FLOOR_HOPS,
        say: this.say,
        children: this.children,
        watch: {
          broker: { pid: listenerPid(this.config.kafkaPort), rss: true },
          'floor stage 1': stage(this.stages[0]),
          'floor stage 2': stage(this.stages[1]),
        },
        prefix: this.prefix,
        beside,
      },
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.stages.map((child) => stopChild(child)));
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
