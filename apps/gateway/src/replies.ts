import { randomUUID } from 'node:crypto';
import { decode, GateDecided, GateDecidedSchema, is, replyTopic, Topic } from '@warden/contracts';
import { ConsumerHandle, KafkaPort, Logger } from '@warden/platform';

type Waiter = (decision: GateDecided) => void;

interface Listener {
  readonly ready: Promise<ConsumerHandle>;
  lastUsedMs: number;
  /** HTTP calls waiting on this agent's replies: a listener with waiters is never closed. */
  waiting: number;
}

/**
 * Decisions for the agents the gateway serves, from their reply topics (docs/protocol.md): before
 * the first request of an agent goes out, the gateway subscribes to `replies.<tenant>.<agent>`,
 * positioned at the topic's end offset taken then (as the SDK does), so no reply to a request
 * published afterwards is missed. One consumer per agent, closed when idle; a group of its own per
 * instance (`<prefix>gateway.replies.<instance>.…`), so every instance sees every reply of its agents.
 * Nothing here outlives the process: a restart drops the waiting calls, which their clients see as
 * a timeout, i.e. a deny.
 */
export class ReplyRouter {
  private readonly listeners = new Map<string, Listener>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly port: KafkaPort,
    private readonly options: {
      readonly prefix: string;
      readonly instanceId: string;
      readonly idleMs: number;
      readonly maxListeners: number;
      readonly logger: Logger;
    },
  ) {
    this.sweeper = setInterval(() => void this.sweep(Date.now()), Math.min(options.idleMs, 30_000));
    this.sweeper.unref();
  }

  /** Number of agents whose reply topic is listened to. */
  get listening(): number {
    return this.listeners.size;
  }

  /**
   * Waits for the decision of `requestId` of an agent, calling `publish` once its reply topic is
   * listened to; resolves undefined after `timeoutMs` (fail closed). `accept` decides whether a
   * decision ends the wait (e.g. not a pending_approval when the caller waits for the final one).
   */
  async await(
    agent: { readonly tenantId: string; readonly agentId: string },
    requestId: string,
    timeoutMs: number,
    publish: () => Promise<void>,
    accept: (d: GateDecided) => boolean = () => true,
  ): Promise<{ decision?: GateDecided; last?: GateDecided }> {
    const key = `${agent.tenantId}\u0000${agent.agentId}`;
    const listener = this.listenerFor(key, agent);
    listener.waiting++;
    let last: GateDecided | undefined;
    let waiter: Waiter | undefined;
    try {
      await listener.ready;
      const decided = new Promise<GateDecided | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), Math.max(0, timeoutMs));
        waiter = (d) => {
          last = d;
          if (!accept(d)) return;
          clearTimeout(timer);
          resolve(d);
        };
        const set = this.waiters.get(requestId) ?? new Set();
        set.add(waiter);
        this.waiters.set(requestId, set);
      });
      await publish();
      return { decision: await decided, last };
    } finally {
      listener.waiting--;
      listener.lastUsedMs = Date.now();
      const set = this.waiters.get(requestId);
      if (waiter && set) {
        set.delete(waiter);
        if (set.size === 0) this.waiters.delete(requestId);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const all = [...this.listeners.keys()];
    await Promise.allSettled(all.map((key) => this.drop(key)));
  }

  private listenerFor(key: string, agent: { tenantId: string; agentId: string }): Listener {
    const existing = this.listeners.get(key);
    if (existing) return existing;
    if (this.closed) throw new Error('the gateway is shutting down');
    if (this.listeners.size >= this.options.maxListeners) void this.sweep(Number.POSITIVE_INFINITY, 1);
    const ready = this.listen(agent);
    const listener: Listener = { ready, lastUsedMs: Date.now(), waiting: 0 };
    this.listeners.set(key, listener);
    // A listener that could not start is forgotten, so the next call tries again.
    ready.catch(() => {
      if (this.listeners.get(key) === listener) this.listeners.delete(key);
    });
    return listener;
  }

  private async listen(agent: { tenantId: string; agentId: string }): Promise<ConsumerHandle> {
    const { prefix, instanceId } = this.options;
    const topic = `${prefix}${replyTopic(agent.tenantId, agent.agentId)}`;
    let watermarks;
    try {
      watermarks = await this.port.watermarks(topic);
    } catch (error) {
      throw new Error(
        `agent ${agent.tenantId}/${agent.agentId} has no reply topic ${topic}: ${(error as Error).message}`,
      );
    }
    const startAt = watermarks.map((w) => ({ topic, partition: w.partition, offset: w.high }));
    let joined!: () => void;
    const assigned = new Promise<void>((resolve) => (joined = resolve));
    const handle = await this.port.consume({
      groupId: `${prefix}gateway.replies.${instanceId}.${randomUUID()}`,
      topics: [topic],
      fromBeginning: false,
      commitOffsets: false,
      concurrency: Math.max(1, startAt.length),
      startAt,
      onAssigned: () => joined(),
      onBatch: async (_t, _p, records) => {
        for (const record of records) {
          try {
            const envelope = decode(Topic.gateDecisions, record);
            if (!is(envelope, GateDecidedSchema)) continue;
            for (const w of this.waiters.get(envelope.data.requestId) ?? []) w(envelope.data);
          } catch {
            // Only policy writes reply topics; a record it did not mean for us is not ours to judge.
          }
        }
        return records.at(-1)?.offset;
      },
    });
    await assigned;
    this.options.logger.debug('listening to a reply topic', { topic });
    return handle;
  }

  /** Closes listeners idle since before `now - idleMs` (at most `limit` of them, least recently used first). */
  private async sweep(now: number, limit = Number.POSITIVE_INFINITY): Promise<void> {
    const idle = [...this.listeners.entries()]
      .filter(([, l]) => l.waiting === 0 && l.lastUsedMs < now - this.options.idleMs)
      .sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs)
      .slice(0, limit);
    await Promise.allSettled(idle.map(([key]) => this.drop(key)));
  }

  private async drop(key: string): Promise<void> {
    const listener = this.listeners.get(key);
    if (!listener) return;
    this.listeners.delete(key);
    const handle = await listener.ready.catch(() => undefined);
    if (!handle) return;
    await handle.stop();
    await this.port.deleteGroups([handle.groupId]).catch(() => undefined);
  }
}
