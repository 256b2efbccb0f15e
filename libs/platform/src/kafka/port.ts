/**
 * Warden's own small Kafka port. Everything in Warden talks to Kafka through this interface;
 * only kafkajs-adapter.ts knows the client library (kafkajs is in maintenance mode, so it
 * must stay replaceable).
 */
export interface RecordIn {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
  readonly timestamp: string;
}

export interface RecordOut {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
  readonly partition?: number;
}

export interface Published {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the first record published to that partition by the call. */
  readonly baseOffset: string;
}

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface BatchControl {
  /** Keeps the group membership alive during long work. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the partition was revoked: finish up and return. */
  isActive(): boolean;
  /** Moves this partition's fetch position; the rest of the current batch is dropped. */
  seek(offset: string): void;
}

export interface ConsumeOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group with no committed offset starts. */
  readonly fromBeginning: boolean;
  /** Commit handled offsets to Kafka (processors); projections keep offsets in Postgres. */
  readonly commitOffsets: boolean;
  /** Batches from different partitions handled at once. */
  readonly concurrency?: number;
  /**
   * Off the hot path (projections), let the broker gather bigger batches: it answers a fetch
   * when `minBytes` are there or `maxWaitMs` passed. Default: answer as soon as one record is.
   */
  readonly batching?: { readonly minBytes: number; readonly maxWaitMs: number };
  /** Returns the offset of the last record it handled (committed when commitOffsets is on). */
  onBatch(
    topic: string,
    partition: number,
    records: readonly RecordIn[],
    control: BatchControl,
  ): Promise<string | undefined>;
  /** Explicit start offsets (e.g. the high watermarks taken before a request is sent). */
  readonly startAt?: readonly { readonly topic: string; readonly partition: number; readonly offset: string }[];
  /** Called after each (re)join with the partitions now assigned to this member. */
  onAssigned?(assignment: readonly TopicPartitions[]): void;
  /** Called when the consumer crashed and will not restart by itself. */
  onCrash?(error: Error): void;
}

export interface ConsumerHandle {
  /** Stops fetching, waits for in-flight batches, commits, leaves the group. */
  stop(): Promise<void>;
  readonly groupId: string;
}

export interface Watermark {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly config: Record<string, string>;
}

/** TLS and SASL towards the brokers (docs/security.md); empty for a local plaintext broker. */
export interface KafkaSecurity {
  readonly ssl: boolean;
  /** PEM CA certificates to trust instead of the system's. */
  readonly ca?: string;
  readonly sasl?: {
    readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
    readonly username: string;
    readonly password: string;
  };
}

/** One ACL with the full resource name (the installation's prefix included), as the broker stores it. */
export interface BrokerAcl {
  readonly resource: {
    readonly type: 'topic' | 'group';
    readonly name: string;
    readonly patternType: 'literal' | 'prefix';
  };
  readonly operations: readonly ('Read' | 'Write' | 'Describe' | 'Create' | 'Delete')[];
}

export interface KafkaPort {
  connect(): Promise<void>;
  publish(records: readonly RecordOut[]): Promise<Published[]>;
  consume(options: ConsumeOptions): Promise<ConsumerHandle>;
  watermarks(topic: string): Promise<Watermark[]>;
  ensureTopics(specs: readonly TopicSpec[]): Promise<void>;
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  /** Allows `principal` (a SASL user name) what `acls` say, on a broker with the authorizer on (admin rights needed). */
  grant(principal: string, acls: readonly BrokerAcl[]): Promise<void>;
  /** True while the producer is connected and no consumer has crashed. */
  healthy(): boolean;
  close(): Promise<void>;
}
