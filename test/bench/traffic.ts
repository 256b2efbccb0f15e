import { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { KafkaStatsSnapshot, PRODUCER_CLIENT } from '@warden/platform';

/**
 * The Kafka traffic of one process over a window, from its clients' own request stats
 * (KafkaClientStats): the services serve theirs on /metrics, the bench's forked processes answer
 * over IPC. Figures are per decision (the window's requests).
 */
export interface KafkaTraffic {
  /** Records handed to this process's consumers. */
  readonly delivered: number;
  /** Records produced. */
  readonly produced: number;
  readonly produceRequests: number;
  readonly fetchRequests: number;
  /** Every request of every client (Fetch, Produce, OffsetCommit, Heartbeat, ...). */
  readonly requests: number;
  /** Deliveries by consumer group (the run's topic prefix and random suffixes removed) and topic. */
  readonly deliveredBy: Record<string, Record<string, number>>;
  readonly producedBy: Record<string, number>;
  readonly requestsByApi: Record<string, number>;
}

/** Reads one process's client stats. */
export type StatsReader = () => Promise<KafkaStatsSnapshot>;

const EMPTY: KafkaStatsSnapshot = { requests: {}, delivered: {}, produced: {}, joins: {} };

/** A service's client stats, from the warden_kafka_* series of its /metrics. */
export function metricsReader(url: string): StatsReader {
  return async () => {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${url}/metrics answered ${res.status}`);
    return parseMetrics(await res.text());
  };
}

/** The warden_kafka_* series of a Prometheus text exposition, back as a snapshot. */
export function parseMetrics(text: string): KafkaStatsSnapshot {
  const requests: Record<string, Record<string, number>> = {};
  const delivered: Record<string, Record<string, number>> = {};
  const produced: Record<string, number> = {};
  const joins: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(warden_kafka_\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    const value = Number(m[3]);
    switch (m[1]) {
      case 'warden_kafka_requests_total':
        (requests[labels.client] ??= {})[labels.api] = value;
        break;
      case 'warden_kafka_records_delivered_total':
        (delivered[labels.group] ??= {})[labels.topic] = value;
        break;
      case 'warden_kafka_records_produced_total':
        produced[labels.topic] = value;
        break;
      case 'warden_kafka_group_joins_total':
        joins[labels.group] = value;
        break;
    }
  }
  return { requests, delivered, produced, joins };
}

/** A forked bench process's client stats, over IPC (it runs answerStatsRequests). */
export function ipcReader(child: ChildProcess): StatsReader {
  return () =>
    new Promise((resolve, reject) => {
      if (!child.connected) return resolve(EMPTY);
      const timer = setTimeout(() => done(() => reject(new Error(`pid ${child.pid} sent no stats in 10 s`))), 10_000);
      const onMessage = (m: { type?: string; stats?: KafkaStatsSnapshot }) => {
        if (m.type === 'stats') done(() => resolve(m.stats ?? EMPTY));
      };
      const onExit = () => done(() => resolve(EMPTY));
      const done = (settle: () => void) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        settle();
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ type: 'stats' });
    });
}

/** In a process the bench forked: answers {type: 'stats'} with the snapshot of `stats`. */
export function answerStatsRequests(stats: () => KafkaStatsSnapshot): void {
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'stats') process.send?.({ type: 'stats', stats: stats() });
  });
}

/** after − before, series by series (a series missing before counts from 0). */
export function subtract(after: KafkaStatsSnapshot, before: KafkaStatsSnapshot): KafkaStatsSnapshot {
  const flat = (a: Record<string, number>, b: Record<string, number> | undefined) =>
    Object.fromEntries(
      Object.entries(a)
        .map(([k, v]) => [k, v - (b?.[k] ?? 0)] as const)
        .filter(([, v]) => v > 0),
    );
  const nested = (a: Record<string, Record<string, number>>, b: Record<string, Record<string, number>>) =>
    Object.fromEntries(
      Object.entries(a)
        .map(([k, v]) => [k, flat(v, b[k])] as const)
        .filter(([, v]) => Object.keys(v).length > 0),
    );
  return {
    requests: nested(after.requests, before.requests),
    delivered: nested(after.delivered, before.delivered),
    produced: flat(after.produced, before.produced),
    joins: flat(after.joins, before.joins),
  };
}

/**
 * A group id as a reader wants it: without the run's topic prefix and without the random
 * suffix that ephemeral groups (SDK clients, read-to-end) carry, so groups of one kind add up.
 */
export function groupName(group: string, prefix: string): string {
  const bare = group.startsWith(prefix) ? group.slice(prefix.length) : group;
  return bare.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '*');
}

/** What a window's stats come to per decision (or per whatever `decisions` counts, e.g. seconds). */
export function trafficPer(window: KafkaStatsSnapshot, decisions: number, prefix: string): KafkaTraffic {
  const per = (n: number) => n / Math.max(decisions, 1);
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const deliveredBy: Record<string, Record<string, number>> = {};
  for (const [group, topics] of Object.entries(window.delivered)) {
    const into = (deliveredBy[groupName(group, prefix)] ??= {});
    for (const [topic, n] of Object.entries(topics)) {
      const t = topic.startsWith(prefix) ? topic.slice(prefix.length) : topic;
      into[t] = (into[t] ?? 0) + per(n);
    }
  }
  const requestsByApi: Record<string, number> = {};
  for (const apis of Object.values(window.requests))
    for (const [api, n] of Object.entries(apis)) requestsByApi[api] = (requestsByApi[api] ?? 0) + per(n);
  const fetches = Object.entries(window.requests)
    .filter(([client]) => client !== PRODUCER_CLIENT)
    .reduce((a, [, apis]) => a + (apis.Fetch ?? 0), 0);
  return {
    delivered: per(Object.values(window.delivered).reduce((a, t) => a + sum(t), 0)),
    produced: per(sum(window.produced)),
    produceRequests: per(window.requests[PRODUCER_CLIENT]?.Produce ?? 0),
    fetchRequests: per(fetches),
    requests: sum(requestsByApi),
    deliveredBy,
    producedBy: Object.fromEntries(
      Object.entries(window.produced).map(([t, n]) => [t.startsWith(prefix) ? t.slice(prefix.length) : t, per(n)]),
    ),
    requestsByApi,
  };
}

/** Sums per-process traffic into the total. */
export function totalTraffic(all: readonly KafkaTraffic[]): KafkaTraffic {
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  const deliveredBy: Record<string, Record<string, number>> = {};
  const producedBy: Record<string, number> = {};
  const requestsByApi: Record<string, number> = {};
  for (const t of all) {
    for (const [g, topics] of Object.entries(t.deliveredBy)) add((deliveredBy[g] ??= {}), topics);
    add(producedBy, t.producedBy);
    add(requestsByApi, t.requestsByApi);
  }
  const sum = (f: (t: KafkaTraffic) => number) => all.reduce((a, t) => a + f(t), 0);
  return {
    delivered: sum((t) => t.delivered),
    produced: sum((t) => t.produced),
    produceRequests: sum((t) => t.produceRequests),
    fetchRequests: sum((t) => t.fetchRequests),
    requests: sum((t) => t.requests),
    deliveredBy,
    producedBy,
    requestsByApi,
  };
}

/** Postgres work of the bench database: transactions committed and rows written (pg_stat_database). */
export interface PgWrites {
  readonly commits: number;
  readonly rowsWritten: number;
}

/**
 * Reads the bench database's counters. Backends publish their counters at most once a second,
 * so a window's edges are off by about a second's writes.
 */
export function pgWritesReader(databaseUrl: string): () => Promise<PgWrites> {
  return async () => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ commits: string; rows: string }>(
        `SELECT xact_commit AS commits, tup_inserted + tup_updated + tup_deleted AS rows
           FROM pg_stat_database WHERE datname = current_database()`,
      );
      return { commits: Number(rows[0]?.commits ?? 0), rowsWritten: Number(rows[0]?.rows ?? 0) };
    } finally {
      await client.end();
    }
  };
}
