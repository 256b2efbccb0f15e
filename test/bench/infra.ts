import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { Client } from 'pg';
import { benchKafka } from './kafka';

export const ROOT = join(__dirname, '..', '..', '..');
const KAFKA_SH = join(ROOT, 'deploy', 'local', 'kafka.sh');

/** Starts the local broker unless one is running; returns whether this call started it. */
export function ensureKafka(say: (line: string) => void): boolean {
  try {
    execFileSync(KAFKA_SH, ['status'], { stdio: 'ignore' });
    return false;
  } catch {
    say('starting Kafka...');
    execFileSync(KAFKA_SH, ['start'], { stdio: ['ignore', 'ignore', 'inherit'] });
    return true;
  }
}

/** The pid of the broker kafka.sh runs, from its pid file (undefined when unknown). */
export function brokerPid(): number | undefined {
  const version = /<kafka.version>([^<]*)</.exec(readFileSync(join(ROOT, 'deploy', 'local', 'pom.xml'), 'utf8'))?.[1];
  // The bench reuses a broker already answering on its port, e.g. the one `npm test` started.
  const homes = [process.env.WARDEN_HOME ?? join(ROOT, '.warden'), join(ROOT, '.warden', 'test')];
  for (const home of homes) {
    try {
      const pid = Number(readFileSync(join(home, `kafka-${version}`, 'data', 'kafka.pid'), 'utf8').trim());
      if (pid && existsSync(`/proc/${pid}`)) return pid;
    } catch {
      // not this one
    }
  }
  return undefined;
}

export function stopKafka(): void {
  execFileSync(KAFKA_SH, ['stop'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Postgres (DATABASE_URL, the local server, or an embedded one: deploy/local/postgres.ts) with
 * an empty `database`, dropped and created again so every bench starts from nothing.
 */
export async function freshBenchDatabase(database: string): Promise<string> {
  const cli = join(ROOT, 'dist', 'deploy', 'local', 'postgres.js');
  const url = execFileSync(process.execPath, [cli, 'ensure', database], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1)!;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  return url;
}

export async function createTopics(brokers: readonly string[], topics: readonly string[], partitions: number) {
  // Quiet: the leader-election race below is expected and retried.
  const admin = benchKafka(brokers, 'bench-admin', logLevel.NOTHING).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
    // New partitions take a moment to have a leader everywhere: wait until their offsets answer.
    for (const topic of topics) {
      for (let attempt = 1; ; attempt++) {
        try {
          await admin.fetchTopicOffsets(topic);
          break;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Deletes every topic and consumer group whose name starts with `prefix` (the bench's own). */
export async function deleteByPrefix(brokers: readonly string[], prefix: string): Promise<number> {
  const admin = benchKafka(brokers, 'bench-admin').admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    if (topics.length > 0) await admin.deleteTopics({ topics });
    return topics.length;
  } finally {
    await admin.disconnect();
  }
}

/** Ports nothing listens on now, so the bench's services never collide with another stack on this machine. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
