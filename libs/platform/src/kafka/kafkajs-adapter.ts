import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Admin,
  Consumer,
  ConsumerConfig,
  EachBatchPayload,
  IHeaders,
  Kafka,
  KafkaConfig,
  logLevel,
  Partitioners,
  Producer,
  ProducerConfig,
  ResourcePatternTypes,
  SASLOptions,
} from 'kafkajs';
import { Logger } from '../observability/logger';
import { KafkaClientStats, PRODUCER_CLIENT } from './client-stats';
import {
  BrokerAcl,
  ConsumeOptions,
  ConsumerHandle,
  KafkaPort,
  KafkaSecurity,
  Published,
  RecordIn,
  RecordOut,
  TopicSpec,
  Watermark,
} from './port';

export interface KafkajsOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly logger: Logger;
  /** TLS and SASL; none for a local plaintext broker. */
  readonly security?: KafkaSecurity;
}

/** How often a consumer commits the offsets it handled (see consume). */
const COMMIT_INTERVAL_MS = 500;

const LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Retries of every kafkajs client Warden creates. */
export const KAFKAJS_RETRY = { initialRetryTime: 100, retries: 8 };

/** Warden's producer settings (the bench's floor pipeline uses the same). */
export const KAFKAJS_PRODUCER: ProducerConfig = {
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
};

/** Warden's consumer settings (the bench's floor pipeline uses the same). */
export function kafkajsConsumerConfig(groupId: string, batching?: ConsumeOptions['batching']): ConsumerConfig {
  return {
    groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    rebalanceTimeout: 20_000,
    heartbeatInterval: 1_000,
    minBytes: batching?.minBytes ?? 1,
    // The broker answers a fetch as soon as a record is there: this only paces idle polling.
    maxWaitTimeInMs: batching?.maxWaitMs ?? 500,
    retry: KAFKAJS_RETRY,
  };
}

/**
 * Counts what a kafkajs client does into `stats`, from its instrumentation events: every request
 * by API, and for a consumer the records each batch hands over and each group join. `label` names
 * the client: the consumer's group id, or PRODUCER_CLIENT.
 */
export function instrumentKafkajs(stats: KafkaClientStats, client: Consumer | Producer, label: string): void {
  const request = ({ payload }: { payload: { apiName: string } }) => stats.request(label, payload.apiName);
  if ('subscribe' in client) {
    client.on(client.events.REQUEST, request);
    client.on(client.events.START_BATCH_PROCESS, ({ payload }) =>
      stats.delivered(label, payload.topic, payload.batchSize),
    );
    client.on(client.events.GROUP_JOIN, () => stats.joined(label));
  } else client.on(client.events.REQUEST, request);
}

/** kafkajs's spelling of TLS and SASL. */
export function kafkajsSecurity(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (!security) return {};
  const ssl = security.ssl ? (security.ca ? { ca: [security.ca] } : true) : undefined;
  const sasl = security.sasl;
  if (!sasl) return { ssl };
  const { username, password } = sasl;
  const mechanism: SASLOptions =
    sasl.mechanism === 'plain'
      ? { mechanism: 'plain', username, password }
      : sasl.mechanism === 'scram-sha-256'
        ? { mechanism: 'scram-sha-256', username, password }
        : { mechanism: 'scram-sha-512', username, password };
  return { ssl, sasl: mechanism };
}

/** The only place in Warden that knows kafkajs. */
export class KafkajsPort implements KafkaPort {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly consumers = new Set<Consumer>();
  private producerConnected = false;
  private admin: Promise<Admin> | undefined;
  private crashed: Error | undefined;
  /** What this process's clients did (served on /metrics; the bench reads it). */
  readonly stats = new KafkaClientStats();

  constructor(options: KafkajsOptions) {
    const log = options.logger.child({ component: 'kafkajs' });
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log: entry }) => {
          const { message, ...rest } = entry;
          // Error responses the client retries by itself (leader moves, rebalances) are routine.
          const routine = level === logLevel.ERROR && message.startsWith('Response ');
          log.log(routine ? 'debug' : (LEVEL[level] ?? 'info'), message, rest);
        },
      retry: KAFKAJS_RETRY,
      ...kafkajsSecurity(options.security),
    });
    this.producer = this.kafka.producer(KAFKAJS_PRODUCER);
    instrumentKafkajs(this.stats, this.producer, PRODUCER_CLIENT);
    // WARDEN_KAFKA_REQUEST_STATS=1 also logs the running totals every 5 s (services serve them on /metrics).
    if (process.env.WARDEN_KAFKA_REQUEST_STATS === '1') {
      setInterval(() => log.info('kafka client stats', { ...this.stats.snapshot() }), 5000).unref();
    }
    this.producer.on(this.producer.events.CONNECT, () => (this.producerConnected = true));
    this.producer.on(this.producer.events.DISCONNECT, () => (this.producerConnected = false));
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.producerConnected = true;
  }

  async publish(records: readonly RecordOut[]): Promise<Published[]> {
    if (records.length === 0) return [];
    const published: Published[] = [];
    // One produce request must stay under the broker's message.max.bytes (1 MiB): send in chunks,
    // one after another so each partition keeps its order.
    for (const chunk of chunks(records)) published.push(...(await this.send(chunk)));
    return published;
  }

  private async send(records: readonly RecordOut[]): Promise<Published[]> {
    const byTopic = new Map<string, { key: string; value: Buffer; headers: IHeaders; partition?: number }[]>();
    for (const r of records) {
      const list = byTopic.get(r.topic) ?? [];
      list.push({ key: r.key, value: r.value, headers: r.headers, partition: r.partition });
      byTopic.set(r.topic, list);
    }
    const result = await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    for (const [topic, messages] of byTopic) this.stats.produced(topic, messages.length);
    return result.map((m) => ({ topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset ?? '-1' }));
  }

  async consume(options: ConsumeOptions): Promise<ConsumerHandle> {
    const consumer = this.kafka.consumer(kafkajsConsumerConfig(options.groupId, options.batching));
    this.consumers.add(consumer);
    instrumentKafkajs(this.stats, consumer, options.groupId);
    let stopping = false;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment = Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions }));
      options.onAssigned?.(assignment);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart && !stopping) {
        this.crashed = payload.error;
        options.onCrash?.(payload.error);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning });
    // kafkajs commits after every batch when it auto-commits: one OffsetCommit per fetch, which
    // at gate rates was a third of all requests the broker answered. Offsets are committed at
    // most every COMMIT_INTERVAL_MS instead, after a batch or from a timer for the idle tail, and
    // once more when the consumer stops. A consumer that takes a partition over after a crash
    // re-reads at most that interval, which every consumer here tolerates (processors skip
    // inputs their changelog reflects; projections keep their own checkpoints; effects are
    // idempotent).
    let committer: Pick<EachBatchPayload, 'commitOffsetsIfNecessary' | 'uncommittedOffsets'> | undefined;
    const commit = async (force: boolean) => {
      if (!committer) return;
      try {
        await (force
          ? committer.commitOffsetsIfNecessary(committer.uncommittedOffsets())
          : committer.commitOffsetsIfNecessary());
      } catch {
        // A rebalance is in progress or the coordinator moved: the next interval commits.
      }
    };
    const timer = options.commitOffsets ? setInterval(() => void commit(false), COMMIT_INTERVAL_MS) : undefined;
    timer?.unref();
    await consumer.run({
      autoCommit: false,
      autoCommitInterval: COMMIT_INTERVAL_MS,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrency ?? 1,
      eachBatch: async (payload) => {
        const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
        const records: RecordIn[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key ? m.key.toString('utf8') : null,
          value: m.value,
          headers: headersOf(m.headers),
          timestamp: m.timestamp,
        }));
        const last = await options.onBatch(batch.topic, batch.partition, records, {
          heartbeat,
          isActive: () => isRunning() && !isStale(),
          seek: (offset) => consumer.seek({ topic: batch.topic, partition: batch.partition, offset }),
        });
        // The fetch position follows the resolved offset, so resolve whether or not we commit.
        if (last !== undefined) resolveOffset(last);
        if (options.commitOffsets) {
          committer = payload;
          await commit(stopping);
        }
      },
    });
    for (const start of options.startAt ?? []) consumer.seek(start);
    return {
      groupId: options.groupId,
      stop: async () => {
        stopping = true;
        clearInterval(timer);
        // A batch still in flight commits by itself when it ends (it sees `stopping`).
        await commit(true);
        await consumer.disconnect();
        this.consumers.delete(consumer);
      },
    };
  }

  async watermarks(topic: string): Promise<Watermark[]> {
    const admin = await this.connectedAdmin();
    const offsets = await retryWhileLeadersMove(() => admin.fetchTopicOffsets(topic));
    return offsets
      .map((o) => ({ partition: o.partition, low: o.low, high: o.high }))
      .sort((a, b) => a.partition - b.partition);
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<void> {
    const admin = await this.connectedAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          // kafkajs's own wait fails on routine metadata races (e.g. after a broker restart);
          // the watermark loop below waits for the leaders and retries.
          waitForLeaders: false,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions,
            replicationFactor: 1,
            configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (error) {
        // Another process may have created the same topics at the same moment.
        if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
      }
    }
    // Leaders of new partitions take a moment to be known everywhere: wait until offsets answer.
    // A topic that existed must have the partitions asked for: keyed topics are co-partitioned
    // (docs/adr/0002), and a service that believes in more partitions than a topic has would
    // route records to partitions that do not exist, and wait for them forever.
    const wrong: string[] = [];
    for (const s of specs) {
      const partitions = (await this.watermarks(s.topic)).length;
      if (partitions !== s.partitions) wrong.push(`${s.topic} has ${partitions} partitions, not ${s.partitions}`);
    }
    if (wrong.length > 0)
      throw new Error(
        `the topics do not have the configured partition count (WARDEN_PARTITIONS): ${wrong.join('; ')}. ` +
          'Configure every service with the partition count the topics were created with.',
      );
  }

  async grant(principal: string, acls: readonly BrokerAcl[]): Promise<void> {
    if (acls.length === 0) return;
    const admin = await this.connectedAdmin();
    const operation = {
      Read: AclOperationTypes.READ,
      Write: AclOperationTypes.WRITE,
      Describe: AclOperationTypes.DESCRIBE,
      Create: AclOperationTypes.CREATE,
      Delete: AclOperationTypes.DELETE,
    } as const;
    await admin.createAcls({
      acl: acls.flatMap((a) =>
        a.operations.map((op) => ({
          resourceType: a.resource.type === 'topic' ? AclResourceTypes.TOPIC : AclResourceTypes.GROUP,
          resourceName: a.resource.name,
          resourcePatternType:
            a.resource.patternType === 'prefix' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
          principal: `User:${principal}`,
          host: '*',
          operation: operation[op],
          permissionType: AclPermissionTypes.ALLOW,
        })),
      ),
    });
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length === 0) return;
    try {
      const admin = await this.connectedAdmin();
      await admin.deleteGroups([...groupIds]);
    } catch {
      // Best effort: an empty group expires by itself.
    }
  }

  healthy(): boolean {
    return this.producerConnected && this.crashed === undefined;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    if (this.admin) await (await this.admin).disconnect();
    this.admin = undefined;
    await this.producer.disconnect();
  }

  private connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => (this.admin = undefined));
    }
    return this.admin;
  }
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    out[name] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

const MOVING = new Set(['NOT_LEADER_FOR_PARTITION', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION']);

/** Retries while partition leadership settles (new topics, a restarted broker): up to ~60 s. */
async function retryWhileLeadersMove<T>(call: () => Promise<T>, attempts = 300): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (error) {
      if (i >= attempts || !MOVING.has((error as { type?: string }).type ?? '')) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Splits records into produce requests of at most 512 KiB and 1,000 records. */
export function chunks(records: readonly RecordOut[], maxBytes = 512 * 1024, maxRecords = 1000): RecordOut[][] {
  const out: RecordOut[][] = [];
  let current: RecordOut[] = [];
  let bytes = 0;
  for (const r of records) {
    let size = r.key.length + r.value.length + 64;
    for (const [k, v] of Object.entries(r.headers)) size += k.length + v.length + 8;
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= maxRecords)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
