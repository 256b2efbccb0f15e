import { DescMessage, MessageShape, toJson } from '@warden/contracts';
import { MAX_TIME } from '@warden/trace-domain';

/**
 * Turning event fields into column values. A projection must accept every event that decodes
 * (a throw would stop the consumer), so these never throw: out-of-range times become null,
 * quantities that are not finite become 0, and text Postgres cannot store is replaced.
 */

/** Epoch milliseconds as a timestamptz value; null for unset (0) or out-of-range times. */
export function iso(ms: number): string | null {
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIME) return null;
  return new Date(Math.trunc(ms)).toISOString();
}

/** Milliseconds of a stored timestamp (ISO from us, or Postgres' own rendering when a row is loaded). */
export function ms(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** The later of two timestamps (null counts as unknown). */
export function latest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return (ms(b) ?? 0) > (ms(a) ?? 0) ? b : a;
}

/** The earlier of two timestamps (null counts as unknown). */
export function earliest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return (ms(b) ?? 0) < (ms(a) ?? 0) ? b : a;
}

/** A count of tokens or money micros: whole, and exact in a double (so sums do not depend on order). */
export function quantity(n: number | undefined): number {
  if (n === undefined || !Number.isFinite(n)) return 0;
  return Math.min(Math.max(Math.round(n), -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
}

export type Json = { readonly [key: string]: unknown };

/** A message as protobuf-JSON; one JSON cannot represent (a NaN inside a Struct) is kept as the reason why. */
export function messageJson<D extends DescMessage>(schema: D, message: MessageShape<D>): Json {
  try {
    return toJson(schema, message) as Json;
  } catch (error) {
    return { unrepresentable: (error as Error).message };
  }
}

/**
 * Replaces NUL, which Postgres rejects in text and jsonb, with U+FFFD, in strings and keys.
 * (Lone surrogates cannot arrive: protobuf decoding replaces or rejects them.)
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/\u0000/g, '\ufffd') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)])) as T;
  }
  return value;
}
