import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { decode, encode, Envelope, Message, TopicName, topicName } from '@warden/contracts';
import { KafkajsPort } from '../kafka/kafkajs-adapter';
import { ConsumerHandle, KafkaPort, RecordIn, RecordOut } from '../kafka/port';
import { provisionTopics } from '../kafka/provision';
import { DEV_KEY_ENCRYPTION_KEY } from '../auth/dev-issuer';
import { AUTHORITY_OWNERS, deriveAuthorityKey, signAuthority } from '../crypto/authority';
import { parseKek } from '../crypto/sealed-key';
import { Logger } from '../observability/logger';

/**
 * Real-infrastructure helpers for integration tests. The broker and Postgres are started by
 * the test command (test/global-setup.ts), which exports KAFKA_BROKERS and DATABASE_URL.
 */
export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
}

export function databaseUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/warden';
}

/** A topic prefix no other test uses, so tests share the broker without seeing each other. */
export function uniquePrefix(name: string): string {
  return `t.${name.replace(/[^a-zA-Z0-9_-]/g, '-')}.${randomUUID().slice(0, 8)}.`;
}

export const quietLogger = (service = 'test') =>
  new Logger(service, (process.env.TEST_LOG_LEVEL as 'debug' | 'info' | 'warn' | 'error' | undefined) ?? 'error');

export async function connectedPort(name = 'test'): Promise<KafkaPort> {
  const port = new KafkajsPort({ brokers: kafkaBrokers(), clientId: `test-${name}`, logger: quietLogger(name) });
  await port.connect();
  return port;
}

export async function provisionedPort(prefix: string, partitions = 3): Promise<KafkaPort> {
  const port = await connectedPort(prefix);
  await provisionTopics(port, prefix, partitions);
  return port;
}

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Publishes one event as the services would: CloudEvents headers, key = stream id. */
export async function publishEvent(
  port: KafkaPort,
  prefix: string,
  topic: TopicName,
  key: string,
  data: Message,
  ids: {
    tenantId?: string;
    agentId?: string;
    runId?: string;
    traceparent?: string;
    /**
     * The KEK the topic's owner derives its signing key from, for records of authority topics
     * (docs/adr/0118): the development one unless given; `unsigned` publishes as a forger would.
     */
    kek?: string | 'unsigned';
  } = {},
): Promise<void> {
  const wire = encode({
    id: randomUUID(),
    type: data.$typeName,
    source: 'warden://test',
    time: Date.now(),
    key,
    tenantId: ids.tenantId ?? '',
    agentId: ids.agentId ?? '',
    runId: ids.runId ?? '',
    traceparent: ids.traceparent,
    data,
  });
  const owner = AUTHORITY_OWNERS.get(topic);
  const signature =
    owner && ids.kek !== 'unsigned'
      ? signAuthority(topic, wire, deriveAuthorityKey(parseKek(ids.kek ?? DEV_KEY_ENCRYPTION_KEY), owner))
      : {};
  await port.publish([{ topic: topicName(prefix, topic), ...wire, headers: { ...wire.headers, ...signature } }]);
}

/**
 * Records as the owners of their topics would publish them (docs/adr/0118): those to authority
 * topics (under `prefix`) signed with the key the owner derives from `kek` (the development KEK
 * unless given); others unchanged. For fixtures that build records themselves (e.g. with toRecord).
 */
export function signedAsOwners(
  prefix: string,
  records: readonly RecordOut[],
  kek = DEV_KEY_ENCRYPTION_KEY,
): RecordOut[] {
  const secret = parseKek(kek);
  return records.map((r) => {
    const topic = r.topic.slice(prefix.length) as TopicName;
    const owner = r.topic.startsWith(prefix) ? AUTHORITY_OWNERS.get(topic) : undefined;
    if (!owner) return r;
    return { ...r, headers: { ...r.headers, ...signAuthority(topic, r, deriveAuthorityKey(secret, owner)) } };
  });
}

/** Records everything published to some topics, decoded where possible. */
export class TopicRecorder {
  readonly records: RecordIn[] = [];
  private handle: ConsumerHandle | undefined;

  private constructor(private readonly prefix: string) {}

  static async start(port: KafkaPort, prefix: string, topics: readonly TopicName[]): Promise<TopicRecorder> {
    const recorder = new TopicRecorder(prefix);
    recorder.handle = await port.consume({
      groupId: `${prefix}recorder.${randomUUID().slice(0, 8)}`,
      topics: topics.map((t) => topicName(prefix, t)),
      fromBeginning: true,
      commitOffsets: false,
      concurrency: 4,
      onBatch: async (_topic, _partition, records) => {
        recorder.records.push(...records);
        return records.at(-1)?.offset;
      },
    });
    return recorder;
  }

  on(topic: TopicName): RecordIn[] {
    return this.records.filter((r) => r.topic === topicName(this.prefix, topic));
  }

  events(topic: TopicName): Envelope[] {
    return this.on(topic).map((r) => decode(topic, r));
  }

  async stop(): Promise<void> {
    await this.handle?.stop();
  }
}

/** A fresh Postgres database for one test file; dropped by `drop()`. */
export async function freshDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(databaseUrl());
  const db = `t_${name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomUUID().slice(0, 8)}`;
  const admin = new Client({ connectionString: withDatabase(base, 'postgres') });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${db}"`);
  await admin.end();
  return {
    url: withDatabase(base, db),
    async drop() {
      const c = new Client({ connectionString: withDatabase(base, 'postgres') });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      await c.end();
    },
  };
}

function withDatabase(base: URL, db: string): string {
  const u = new URL(base.toString());
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Ports nothing listens on now, so a stack started by a test or the bench never collides with another stack on this
 * machine: the first free ones from `base` up (within 100 ports), else any the
 * kernel hands out.
 */
export async function freePorts(n: number, base?: number): Promise<number[]> {
  const bind = (port: number) =>
    new Promise<ReturnType<typeof createServer> | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  const servers: ReturnType<typeof createServer>[] = [];
  if (base === undefined) {
    for (let i = 0; i < n; i++) {
      const server = await bind(0);
      if (!server) throw new Error('no free port from the kernel');
      servers.push(server);
    }
  } else {
    for (let port = base; port < base + 100 && servers.length < n; port++) {
      const server = await bind(port);
      if (server) servers.push(server);
    }
    if (servers.length < n) {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
      throw new Error(`fewer than ${n} free ports in ${base}-${base + 99}`);
    }
  }
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
