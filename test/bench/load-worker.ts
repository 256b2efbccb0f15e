import { performance } from 'node:perf_hooks';
import { KafkajsPort, KafkaStatsSnapshot, Logger } from '@warden/platform';
import { WardenClient } from '@warden/sdk';
import { FloorClient } from './floor-client';
import { LoadResult, Reply, runIdOf, runOpenLoop, stepIdOf } from './open-loop';
import { answerStatsRequests } from './traffic';

/**
 * A load-generator process. The bench forks one or more, each with its own client and its
 * share of the schedule, and collects their results over IPC:
 *   worker -> {type: 'ready'} ; bench -> {type: 'go', startWall} ; worker -> {type: 'progress' | 'done' | 'failed'}
 *   then the bench reads the worker's CPU use and disconnects, and the worker exits. At any time
 *   bench -> {type: 'stats'} ; worker -> {type: 'stats', stats}: its Kafka clients' request stats.
 */
export interface WorkerConfig {
  readonly kind: 'warden' | 'floor';
  /** The load's label, part of every run id (runIdOf). */
  readonly label: string;
  readonly brokers: readonly string[];
  readonly index: number;
  readonly stride: number;
  readonly rate: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly runs: number;
  readonly stepsPerRun: number;
  readonly timeoutMs: number;
  readonly partitions: number;
  /** Warden: the installation's topic prefix. */
  readonly topicPrefix: string;
  /** Floor: the first and last topics of the pipeline. */
  readonly floor?: { readonly requests: string; readonly replies: string; readonly stamps: readonly string[] };
  readonly agent: {
    readonly tenantId: string;
    readonly agentId: string;
    readonly tool: string;
    readonly action: string;
  };
}

export type WorkerMessage =
  | { readonly type: 'ready' }
  | {
      readonly type: 'progress';
      readonly sent: number;
      readonly received: number;
      readonly lost: number;
      readonly outstanding: number;
    }
  | { readonly type: 'done'; readonly result: LoadResult }
  | { readonly type: 'failed'; readonly error: string };

interface Sender {
  send(i: number): Promise<Reply | undefined>;
  close(): Promise<void>;
  stats(): KafkaStatsSnapshot;
}

async function wardenSender(config: WorkerConfig): Promise<Sender> {
  // The SDK on a port of our own, so the worker can read its client stats.
  const clientId = `bench-${config.index}`;
  const port = new KafkajsPort({ brokers: config.brokers, clientId, logger: new Logger('sdk', 'warn') });
  await port.connect();
  const client = await WardenClient.connect({
    brokers: config.brokers,
    topicPrefix: config.topicPrefix,
    clientId,
    port,
    agent: { tenantId: config.agent.tenantId, agentId: config.agent.agentId },
  });
  const { tenantId, agentId, tool, action } = config.agent;
  return {
    async send(i) {
      const result = await client.gate(
        {
          tenantId,
          agentId,
          runId: runIdOf(config.label, i, config.runs, config.stepsPerRun),
          stepId: stepIdOf(i),
          environment: 'prod',
          action: { kind: 'tool_call', tool, name: action },
          arguments: { ticketId: i },
          estimatedTokens: 1,
        },
        { timeoutMs: config.timeoutMs },
      );
      const decision = result.decision;
      if (!decision) return undefined;
      return {
        verdict: result.verdict,
        reason: result.reason,
        requestedAtMs: decision.request?.requestedAtMs ?? NaN,
        stamps: [decision.decidedAtMs],
      };
    },
    close: async () => {
      await client.close();
      await port.close();
    },
    stats: () => port.stats.snapshot(),
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_WORKER ?? '') as WorkerConfig;
  const post = (message: WorkerMessage) => process.send?.(message);
  const sender: Sender = config.kind === 'warden' ? await wardenSender(config) : await FloorClient.connect(config);
  answerStatsRequests(() => sender.stats());
  const startWall = await new Promise<number>((resolve) => {
    process.on('message', (m: { type: string; startWall: number }) => {
      if (m.type === 'go') resolve(m.startWall);
    });
    post({ type: 'ready' });
  });
  const result = await runOpenLoop({
    rate: config.rate,
    warmupSeconds: config.warmupSeconds,
    seconds: config.seconds,
    index: config.index,
    stride: config.stride,
    t0: performance.now() + (startWall - Date.now()),
    send: (i) => sender.send(i),
    onProgress: (p) => post({ type: 'progress', ...p }),
  });
  await sender.close();
  // Stay alive until the bench has read this process's CPU use: it disconnects when it has.
  process.once('disconnect', () => process.exit(0));
  post({ type: 'done', result });
}

process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => process.exit(143));
void main().catch((error) => {
  process.send?.({ type: 'failed', error: (error as Error).stack ?? String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
