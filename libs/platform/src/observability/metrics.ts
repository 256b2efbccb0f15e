import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
}

export interface LagSample {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}
