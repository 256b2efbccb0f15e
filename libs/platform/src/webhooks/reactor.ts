import { AuthorityVerifier } from '../crypto/authority';
import { decode, Envelope, EnvelopeError, Message, TopicName } from '@warden/contracts';
import { ConsumerHandle, KafkaPort, RecordIn, RecordOut } from '../kafka/port';
import { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { deadLetter } from '../runtime/dead-letter';
import { deterministicId } from '../runtime/ids';
import { ConsumerStatus } from '../runtime/processor';
import { Route, toRecord } from '../runtime/publish';
import { DEFAULT_RETRY, deliverWebhook, DeliveryResult, RetryPolicy, WebhookMessage } from './delivery';

/** Header on a dead-lettered notification naming the endpoint that never took it. */
export const WEBHOOK_URL_HEADER = 'warden_webhook_url';

/**
 * A webhook reactor: consumes notification events and delivers each as signed webhooks.
 * Retries wait inside the reactor (the runtime), never in a domain; after the last attempt the
 * notification record goes to the dead-letter topic (code `webhook_undeliverable`, header
 * `warden_webhook_url`) and the reactor moves on. Offsets are committed after the outcome is
 * published, so a crash redelivers: receivers dedupe by the `webhook-id` header.
 */
export interface WebhookReactorDefinition {
  readonly name: string;
  readonly topics: readonly TopicName[];
  /** Event types that trigger deliveries; others are skipped. */
  readonly handles: readonly string[];
  /** The webhooks one event sends (none to skip it). Ids must be deterministic from the event. */
  deliveries(event: Envelope): readonly WebhookMessage[];
  /** Events recording a delivery's outcome, published before the offset is committed. */
  outcome?(
    event: Envelope,
    message: WebhookMessage,
    result: DeliveryResult,
  ): readonly { event: Message; route: Route }[];
  readonly retry?: RetryPolicy;
}

export interface WebhookReactorDeps {
  readonly port: KafkaPort;
  readonly prefix: string;
  readonly service: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Refuses forged records of authority topics (docs/adr/0118). */
  readonly authority?: AuthorityVerifier;
}

export class WebhookReactor {
  private handle: ConsumerHandle | undefined;
  private state: ConsumerStatus = 'starting';
  private stopping = false;
  private readonly wakers = new Set<() => void>();
  private readonly log: Logger;

  constructor(
    private readonly def: WebhookReactorDefinition,
    private readonly deps: WebhookReactorDeps,
  ) {
    this.log = deps.logger.child({ consumer: def.name });
  }

  get name(): string {
    return this.def.name;
  }

  get status(): ConsumerStatus {
    return this.state;
  }

  async start(): Promise<void> {
    const { port, prefix } = this.deps;
    this.stopping = false;
    this.handle = await port.consume({
      groupId: `${prefix}${this.def.name}`,
      topics: this.def.topics.map((t) => prefix + t),
      fromBeginning: true,
      commitOffsets: true,
      concurrency: 4,
      onCrash: (error) => {
        this.state = 'crashed';
        this.log.error('consumer crashed', { error });
      },
      onBatch: async (topic, _partition, records, control) => {
        let last: string | undefined;
        for (const record of records) {
          if (!control.isActive() || this.stopping) break;
          const done = await this.handleRecord(topic, record, control.heartbeat);
          if (!done) break;
          last = record.offset;
        }
        return last;
      },
    });
    this.state = 'running';
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.wakers) wake();
    await this.handle?.stop();
    this.state = 'stopped';
  }

  /** Delivers one record's webhooks; false when it was cut short by a stop (not committed). */
  private async handleRecord(topic: string, record: RecordIn, heartbeat: () => Promise<void>): Promise<boolean> {
    const { prefix, metrics, port } = this.deps;
    const name = topic.slice(prefix.length) as TopicName;
    // A forged record of an authority topic (docs/adr/0118) notifies nobody; the tables dead-letter it.
    if (this.deps.authority && !this.deps.authority.check(name, record).ok) return true;
    let event: Envelope;
    try {
      event = decode(name, record);
    } catch (error) {
      if (!(error instanceof EnvelopeError)) throw error;
      return true; // the topic's owner dead-letters malformed records
    }
    if (!this.def.handles.includes(event.type)) return true;
    const out: RecordOut[] = [];
    for (const message of this.def.deliveries(event)) {
      const result = await deliverWebhook(message, this.def.retry ?? DEFAULT_RETRY, {
        now: Date.now,
        sleep: (ms) => this.sleep(ms, heartbeat),
      });
      if (result.interrupted) return false;
      const last = result.attempts.at(-1);
      metrics.messages.inc({
        consumer: this.def.name,
        topic: name,
        outcome: result.delivered ? 'delivered' : 'undeliverable',
      });
      (this.def.outcome?.(event, message, result) ?? []).forEach(({ event: e, route }, i) =>
        out.push(
          toRecord(
            prefix,
            `warden://${this.deps.service}/${this.def.name}`,
            deterministicId(this.def.name, message.id, result.attempts.length, i),
            Date.now(),
            e,
            route,
          ),
        ),
      );
      if (!result.delivered) {
        const reason = `${message.url}: ${last?.error ?? 'not attempted'} after ${result.attempts.length} attempt(s)`;
        this.log.warn('webhook undeliverable; dead-lettering', { url: message.url, id: message.id, reason });
        const dead = deadLetter(prefix, this.def.name, record, 'webhook_undeliverable', reason, Date.now());
        out.push({ ...dead, headers: { ...dead.headers, [WEBHOOK_URL_HEADER]: message.url } });
      }
    }
    if (out.length > 0) await port.publish(out);
    return true;
  }

  /** Waits `ms`, heartbeating; resolves false at once when the reactor stops. */
  private sleep(ms: number, heartbeat: () => Promise<void>): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const beat = setInterval(() => void heartbeat().catch(() => undefined), 1000);
      const finish = (completed: boolean) => {
        clearTimeout(timer);
        clearInterval(beat);
        this.wakers.delete(wake);
        resolve(completed);
      };
      const timer = setTimeout(() => finish(true), ms);
      const wake = () => finish(false);
      this.wakers.add(wake);
    });
  }
}
