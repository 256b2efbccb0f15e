import { IHeaders } from 'kafkajs';
import { instrumentKafkajs, KafkaClientStats, PRODUCER_CLIENT } from '@warden/platform';
import { benchKafka, consumerConfig, PRODUCER } from './kafka';
import { answerStatsRequests } from './traffic';

/**
 * One stage of the floor pipeline, run as its own process like a Warden service: consume a
 * topic, stamp the handling time in a header, and forward each batch unchanged to the same
 * partition of the next topic with one acks=-1 send per batch (what a Warden processor does,
 * minus decoding, deciding and encoding). It counts its clients' requests, deliveries and
 * produces like Warden's adapter does, and answers the bench's {type: 'stats'} over IPC.
 */
export interface StageConfig {
  readonly brokers: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly groupId: string;
  /** Header that receives Date.now() at handling. */
  readonly stamp: string;
  readonly partitions: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_STAGE ?? '') as StageConfig;
  const kafka = benchKafka(config.brokers, config.groupId);
  const producer = kafka.producer(PRODUCER);
  const consumer = kafka.consumer(consumerConfig(config.groupId));
  const stats = new KafkaClientStats();
  instrumentKafkajs(stats, producer, PRODUCER_CLIENT);
  instrumentKafkajs(stats, consumer, config.groupId);
  answerStatsRequests(() => stats.snapshot());
  await producer.connect();
  await consumer.connect();
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    const assigned = Object.values(payload.memberAssignment).flat().length;
    if (assigned === config.partitions) process.send?.({ type: 'ready' });
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) {
      process.stderr.write(`floor stage ${config.groupId} crashed: ${payload.error.stack}\n`);
      process.exit(1);
    }
  });
  await consumer.subscribe({ topics: [config.from], fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    autoCommitInterval: 500,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: config.partitions,
    eachBatch: async ({ batch, resolveOffset }) => {
      const now = String(Date.now());
      const messages = batch.messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: { ...(m.headers as IHeaders), [config.stamp]: now },
        partition: batch.partition,
      }));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: config.to, messages }] });
      stats.produced(config.to, messages.length);
      const last = batch.messages.at(-1);
      if (last) resolveOffset(last.offset);
    },
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await consumer.disconnect();
    await producer.disconnect();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => undefined);
  process.on('disconnect', () => void stop());
}

void main().catch((error) => {
  process.stderr.write(`floor stage failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
