import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import { Client } from 'pg';
import { benchKafka } from './kafka';

export const ROOT = join(__dirname, '..', '..', '..');
const KAFKA_SH = join(ROOT, 'deploy', 'local', 'kafka.sh');

/**
 * Reuses a broker already answering on 127.0.0.1:`port` (the machine's shared one, or the one
 * `npm test` started) and never stops it; starts one with deploy/local/kafka.sh only when none
 * answers. Returns whether this call started it.
 */
export async function ensureKafka(port: number, say: (line: string) => void): Promise<boolean> {
  const admin = benchKafka([`127.0.0.1:${port}`], 'bench-probe', logLevel.NOTHING, { retries: 0 }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
    say(`using the Kafka broker already answering on 127.0.0.1:${port}`);
    return false;
  } catch {
    say(`starting Kafka on 127.0.0.1:${port}...`);
    execFileSync(KAFKA_SH, ['start'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, KAFKA_PORT: String(port) },
    });
    return true;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The pid of the process listening on 127.0.0.1:`port` (the broker), from /proc; undefined when unknown. */
export function listenerPid(port: number): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === '0A') inodes.add(`socket:[${f[9]}]`);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${entry}/fd/${fd}`))) return Number(entry);
      } catch {
        // The descriptor closed while we looked.
      }
    }
  }
  return undefined;
}

export function stopKafka(port: number): void {
  execFileSync(KAFKA_SH, ['stop'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, KAFKA_PORT: String(port) },
  });
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
  // DATABASE_URL names its own database: the bench still works in `database`, on that server.
  const fresh = new URL(url);
  fresh.pathname = `/${encodeURIComponent(database)}`;
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  return fresh.toString();
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
