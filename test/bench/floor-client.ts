import { randomUUID } from 'node:crypto';
import { Consumer, Producer } from 'kafkajs';
import { encode } from '@warden/contracts';
import { instrumentKafkajs, KafkaClientStats, KafkaStatsSnapshot, PRODUCER_CLIENT } from '@warden/platform';
import { buildRequest } from '@warden/sdk';
import { benchKafka, consumerConfig, header, PRODUCER } from './kafka';
import type { WorkerConfig } from './load-worker';
import { Reply, runIdOf, stepIdOf } from './open-loop';

type Waiting = { readonly requestedAtMs: number; readonly done: (reply: Reply | undefined) => void };

/**
 * The agent side of the floor pipeline: builds and encodes the same GateRequested the SDK
 * sends, publishes it with one acks=-1 send per request (as the SDK does), and matches replies
 * on the last topic by the CloudEvents id header.
 */
export class FloorClient {
  private readonly pending = new Map<string, Waiting>();
  private readonly counted = new KafkaClientStats();

  private constructor(
    private readonly config: WorkerConfig,
    private readonly producer: Producer,
    private readonly consumer: Consumer,
  ) {}

  static async connect(config: WorkerConfig): Promise<FloorClient> {
    const floor = config.floor!;
    const kafka = benchKafka(config.brokers, `bench-floor-${config.index}`);
    const producer = kafka.producer(PRODUCER);
    const groupId = `${floor.replies}.agent.${config.index}.${randomUUID()}`;
    const consumer = kafka.consumer(consumerConfig(groupId));
    const client = new FloorClient(config, producer, consumer);
    instrumentKafkajs(client.counted, producer, PRODUCER_CLIENT);
    instrumentKafkajs(client.counted, consumer, groupId);
    await producer.connect();
    await consumer.connect();
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topics: [floor.replies], fromBeginning: false });
    await consumer.run({
      // Like the SDK's consumer, which commits its positions at most every 500 ms.
      autoCommit: true,
      autoCommitInterval: 500,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.partitions,
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const m of batch.messages) {
          const waiting = client.pending.get(header(m.headers, 'ce_id') ?? '');
          if (waiting) {
            waiting.done({
              verdict: 'allow',
              reason: '',
              requestedAtMs: waiting.requestedAtMs,
              stamps: floor.stamps.map((s) => Number(header(m.headers, s))),
            });
          }
          resolveOffset(m.offset);
        }
      },
    });
    await joined;
    return client;
  }

  send(i: number): Promise<Reply | undefined> {
    const { tenantId, agentId, tool, action } = this.config.agent;
    const runId = runIdOf(this.config.label, i, this.config.runs, this.config.stepsPerRun);
    const request = buildRequest(
      {
        tenantId,
        agentId,
        runId,
        stepId: stepIdOf(i),
        environment: 'prod',
        action: { kind: 'tool_call', tool, name: action },
        arguments: { ticketId: i },
        estimatedTokens: 1,
      },
      Date.now(),
      this.config.timeoutMs,
    );
    const wire = encode({
      id: request.requestId,
      type: request.$typeName,
      source: 'warden://sdk/bench-floor',
      time: Date.now(),
      key: runId,
      tenantId,
      agentId,
      runId,
      data: request,
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), this.config.timeoutMs);
      const finish = (reply: Reply | undefined) => {
        clearTimeout(timer);
        this.pending.delete(request.requestId);
        resolve(reply);
      };
      const acked = this.producer.sendBatch({
        acks: -1,
        topicMessages: [{ topic: this.config.floor!.requests, messages: [wire] }],
      });
      acked.then(
        () => this.counted.produced(this.config.floor!.requests, 1),
        () => finish(undefined),
      );
      // Like WardenClient.gate(): the answer counts once both the send is acknowledged and the reply is in.
      this.pending.set(request.requestId, {
        requestedAtMs: request.requestedAtMs,
        done: (reply) =>
          void acked.then(
            () => finish(reply),
            () => finish(undefined),
          ),
      });
    });
  }

  stats(): KafkaStatsSnapshot {
    return this.counted.snapshot();
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }
}
