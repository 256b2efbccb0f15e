/**
 * What one process's Kafka clients did, counted from the client's own instrumentation (see
 * `instrumentKafkajs` in kafkajs-adapter.ts): the requests each client sent by API, the records
 * each consumer group was handed, the records produced, and the group joins. The counters only
 * grow; a reader takes two snapshots and subtracts (the bench's record deliveries per decision).
 */
export interface KafkaStatsSnapshot {
  /** Requests sent, per client (`producer` or a consumer group id), by API name (Fetch, Produce, ...). */
  readonly requests: Record<string, Record<string, number>>;
  /** Records handed to the application, per consumer group, by topic. */
  readonly delivered: Record<string, Record<string, number>>;
  /** Records produced, by topic. */
  readonly produced: Record<string, number>;
  /** Group joins, per consumer group: one when it starts and one more after every rebalance. */
  readonly joins: Record<string, number>;
}

/** The label of a process's producer in `requests`. */
export const PRODUCER_CLIENT = 'producer';

export class KafkaClientStats {
  private readonly requestCounts = new Map<string, Map<string, number>>();
  private readonly deliveredCounts = new Map<string, Map<string, number>>();
  private readonly producedCounts = new Map<string, number>();
  private readonly joinCounts = new Map<string, number>();

  request(client: string, api: string): void {
    add(inner(this.requestCounts, client), api, 1);
  }

  delivered(group: string, topic: string, records: number): void {
    add(inner(this.deliveredCounts, group), topic, records);
  }

  produced(topic: string, records: number): void {
    add(this.producedCounts, topic, records);
  }

  joined(group: string): void {
    add(this.joinCounts, group, 1);
  }

  snapshot(): KafkaStatsSnapshot {
    const nested = (m: Map<string, Map<string, number>>) =>
      Object.fromEntries([...m].map(([k, v]) => [k, Object.fromEntries(v)]));
    return {
      requests: nested(this.requestCounts),
      delivered: nested(this.deliveredCounts),
      produced: Object.fromEntries(this.producedCounts),
      joins: Object.fromEntries(this.joinCounts),
    };
  }
}

function inner(outer: Map<string, Map<string, number>>, key: string): Map<string, number> {
  let m = outer.get(key);
  if (!m) outer.set(key, (m = new Map()));
  return m;
}

function add(m: Map<string, number>, key: string, n: number): void {
  m.set(key, (m.get(key) ?? 0) + n);
}
