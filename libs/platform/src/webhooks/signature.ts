import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures in the Standard Webhooks format (https://www.standardwebhooks.com):
 *
 *   webhook-id:        the message id (stable across retries: receivers dedupe by it)
 *   webhook-timestamp: unix seconds when the attempt was signed
 *   webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>
 *
 * Several signatures may be listed, separated by spaces (key rotation); one valid one is enough.
 * A secret written `whsec_<base64>` is the base64-decoded bytes; any other string is its UTF-8 bytes.
 */
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;

/** How far a timestamp may be from the receiver's clock before a signature is refused (replay guard). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

function secretBytes(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice('whsec_'.length), 'base64') : Buffer.from(secret);
}

function sign(secret: string, id: string, timestamp: number, body: string): string {
  return createHmac('sha256', secretBytes(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
}

/** The three headers for one delivery attempt of `body` (the exact bytes sent). */
export function webhookHeaders(secret: string, id: string, nowMs: number, body: string): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: `v1,${sign(secret, id, timestamp, body)}`,
  };
}

export type WebhookVerification =
  | { readonly ok: true; readonly id: string; readonly timestamp: number }
  | { readonly ok: false; readonly reason: 'missing_headers' | 'timestamp_out_of_tolerance' | 'bad_signature' };

/** What a receiver does with a delivery: check the signature over the raw body and the timestamp. */
export function verifyWebhook(
  secret: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  nowMs: number,
  toleranceSeconds = WEBHOOK_TOLERANCE_SECONDS,
): WebhookVerification {
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = header(WEBHOOK_HEADERS.id);
  const ts = header(WEBHOOK_HEADERS.timestamp);
  const signatures = header(WEBHOOK_HEADERS.signature);
  if (!id || !ts || !signatures || !/^\d+$/.test(ts)) return { ok: false, reason: 'missing_headers' };
  const timestamp = Number(ts);
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceSeconds) return { ok: false, reason: 'timestamp_out_of_tolerance' };
  const expected = Buffer.from(sign(secret, id, timestamp, body));
  const match = signatures.split(' ').some((s) => {
    const [version, value] = s.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return match ? { ok: true, id, timestamp } : { ok: false, reason: 'bad_signature' };
}
