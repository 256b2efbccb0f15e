import { webhookHeaders } from './signature';

/** One outbound webhook: where, signed with which secret, and the JSON body (Standard Webhooks shape). */
export interface WebhookMessage {
  /** Stable across attempts and redeliveries (the webhook-id header); receivers dedupe by it. */
  readonly id: string;
  readonly url: string;
  readonly secret: string;
  /** The event type, e.g. `warden.killswitch.v1.OwnerNotified`. */
  readonly type: string;
  readonly data: unknown;
}

export interface RetryPolicy {
  /** Waits before the 2nd, 3rd, … attempt; attempts = delays + 1. */
  readonly delaysMs: readonly number[];
  /** Each attempt is abandoned after this long. */
  readonly timeoutMs: number;
}

/** Five attempts over about six minutes, each given ten seconds. */
export const DEFAULT_RETRY: RetryPolicy = { delaysMs: [1_000, 10_000, 60_000, 300_000], timeoutMs: 10_000 };

export interface DeliveryAttempt {
  readonly attempt: number;
  readonly atMs: number;
  /** HTTP status, 0 when no response came back. */
  readonly status: number;
  readonly error: string;
}

export interface DeliveryResult {
  readonly delivered: boolean;
  /** The retries were cut short (the consumer is stopping): no outcome, deliver again later. */
  readonly interrupted: boolean;
  readonly attempts: readonly DeliveryAttempt[];
}

/** The I/O a delivery needs, injected so the runtime owns time and the network. */
export interface DeliveryIo {
  now(): number;
  /** Waits; resolves false when the wait was cut short because the consumer is stopping. */
  sleep(ms: number): Promise<boolean>;
}

/** 2xx delivers; 408, 429 and 5xx or no response are retried; any other status is final. */
function retryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** The JSON body sent for a message: `{ type, timestamp, data }`. */
export function webhookBody(message: WebhookMessage, nowMs: number): string {
  return JSON.stringify({ type: message.type, timestamp: new Date(nowMs).toISOString(), data: message.data });
}

/**
 * Delivers one webhook: POST with a fresh signature per attempt, retrying retryable failures
 * after the policy's delays. Returns every attempt; the caller records the outcome.
 */
export async function deliverWebhook(
  message: WebhookMessage,
  retry: RetryPolicy,
  io: DeliveryIo,
): Promise<DeliveryResult> {
  const attempts: DeliveryAttempt[] = [];
  for (let n = 0; n <= retry.delaysMs.length; n++) {
    if (n > 0 && !(await io.sleep(retry.delaysMs[n - 1]))) return { delivered: false, interrupted: true, attempts };
    const atMs = io.now();
    const body = webhookBody(message, atMs);
    let status = 0;
    let error = '';
    try {
      const res = await fetch(message.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...webhookHeaders(message.secret, message.id, atMs, body) },
        body,
        signal: AbortSignal.timeout(retry.timeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (status < 200 || status >= 300) error = `HTTP ${status}`;
    } catch (e) {
      error = (e as Error).cause ? String((e as Error).cause) : (e as Error).message;
    }
    attempts.push({ attempt: n + 1, atMs, status, error });
    if (!error) return { delivered: true, interrupted: false, attempts };
    if (!retryable(status)) break;
  }
  return { delivered: false, interrupted: false, attempts };
}
