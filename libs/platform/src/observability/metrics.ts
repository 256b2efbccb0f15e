import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { KafkaStatsSnapshot } from '../kafka/client-stats';

/** Prometheus metrics of one service process, served on GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly messages: Counter<'consumer' | 'topic' | 'outcome'>;
  readonly handleSeconds: Histogram<'consumer'>;
  readonly rebuildSeconds: Histogram<'consumer'>;
  readonly published: Counter<'topic'>;
  readonly consumerState: Gauge<'consumer'>;
  readonly deadLetters: Counter<'consumer' | 'topic' | 'code'>;
  readonly consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  private lagSources: (() => Promise<readonly LagSample[]>)[] = [];

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.messages = new Counter({
      name: 'warden_messages_total',
      help: 'Messages consumed, by outcome (handled, ignored, duplicate, dead_lettered)',
      labelNames: ['consumer', 'topic', 'outcome'],
      registers: [this.registry],
    });
    this.handleSeconds = new Histogram({
      name: 'warden_batch_handle_seconds',
      help: 'Time to handle one consumed batch, including publishing its output',
      labelNames: ['consumer'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [this.registry],
    });
    this.rebuildSeconds = new Histogram({
      name: 'warden_state_rebuild_seconds',
      help: 'Time to rebuild in-memory state from Kafka',
      labelNames: ['consumer'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    this.published = new Counter({
      name: 'warden_published_total',
      help: 'Records published',
      labelNames: ['topic'],
      registers: [this.registry],
    });
    this.consumerState = new Gauge({
      name: 'warden_consumer_ready',
      help: '1 when the consumer is running with its state rebuilt and caught up',
      labelNames: ['consumer'],
      registers: [this.registry],
    });
    this.deadLetters = new Counter({
      name: 'warden_dead_letters_total',
      help: 'Records sent to the dead-letter topic, by consumer, source topic and reason code',
      labelNames: ['consumer', 'topic', 'code'],
      registers: [this.registry],
    });
    const sources = () => this.lagSources;
    this.consumerLag = new Gauge({
      name: 'warden_consumer_lag_records',
      help: "Records on a partition after the last one this instance's consumer group handled there",
      labelNames: ['group', 'topic', 'partition'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const source of sources()) {
          for (const s of await source()) {
            this.set({ group: s.group, topic: s.topic, partition: String(s.partition) }, s.lag);
          }
        }
      },
    });
  }

  /** Adds what the consumer-lag gauge reports at each scrape (the instrumented Kafka port). */
  lagSource(source: () => Promise<readonly LagSample[]>): void {
    this.lagSources = [...this.lagSources, source];
  }

  /**
   * Serves what the process's Kafka clients did (`KafkaClientStats`): requests by client and API,
   * records delivered by consumer group and topic, records produced by topic, group joins.
   */
  observeKafka(stats: () => KafkaStatsSnapshot): void {
    const counter = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      values: (s: KafkaStatsSnapshot) => [Record<L, string>, number][],
    ) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [labels, n] of values(stats())) this.inc(labels as never, n);
        },
      });
    const nested = <A extends string, B extends string>(m: Record<string, Record<string, number>>, a: A, b: B) =>
      Object.entries(m).flatMap(([x, inner]) =>
        Object.entries(inner).map(
          ([y, n]) => [{ [a]: x, [b]: y } as Record<A | B, string>, n] as [Record<A | B, string>, number],
        ),
      );
    counter(
      'warden_kafka_requests_total',
      'Kafka requests sent, by client (producer or consumer group) and API',
      ['client', 'api'],
      (s) => nested(s.requests, 'client', 'api'),
    );
    counter(
      'warden_kafka_records_delivered_total',
      'Records handed to the application, by consumer group and topic',
      ['group', 'topic'],
      (s) => nested(s.delivered, 'group', 'topic'),
    );
    counter('warden_kafka_records_produced_total', 'Records produced, by topic', ['topic'], (s) =>
      Object.entries(s.produced).map(([topic, n]) => [{ topic }, n]),
    );
    counter(
      'warden_kafka_group_joins_total',
      'Consumer group joins (the first and one per rebalance), by group',
      ['group'],
      (s) => Object.entries(s.joins).map(([group, n]) => [{ group }, n]),
    );
  }
}

export interface LagSample {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}
