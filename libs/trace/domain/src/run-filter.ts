import { invalid } from '@warden/kernel';
import { VERDICT_NAMES } from './verdicts';

/** Which runs a caller lists; the tenant comes from the caller, never from the query. */
export interface RunFilter {
  readonly agentId?: string;
  /** Runs with at least one request of this verdict. */
  readonly verdict?: string;
  /** Runs seen at or after `fromMs` and at or before `toMs` (they overlap the range). */
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly limit: number;
}

export const MAX_PAGE = 1000;

type Query = Readonly<Record<string, unknown>>;

/** Reads the query string of GET /runs; each error names the parameter at fault. */
export function runFilter(query: Query): RunFilter {
  const verdict = text(query, 'verdict');
  if (verdict !== undefined && !VERDICT_NAMES.includes(verdict)) {
    throw invalid('invalid_verdict', `verdict must be one of ${VERDICT_NAMES.join(', ')}`, 'verdict');
  }
  const fromMs = time(query, 'from');
  const toMs = time(query, 'to');
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
    throw invalid('invalid_range', 'from must not be after to', 'to');
  }
  return { agentId: text(query, 'agentId'), verdict, fromMs, toMs, limit: pageLimit(query, 100) };
}

/** `?limit=`, between 1 and MAX_PAGE. */
export function pageLimit(query: Query, fallback: number): number {
  const raw = text(query, 'limit');
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PAGE) {
    throw invalid('invalid_limit', `limit must be an integer from 1 to ${MAX_PAGE}`, 'limit');
  }
  return n;
}

/** An optional single-valued text parameter. */
export function text(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw invalid('invalid_parameter', `${name} must be given once, as text`, name);
  if (v.length > 256) throw invalid('invalid_parameter', `${name} is longer than 256`, name);
  return v;
}

/** An RFC 3339 timestamp or epoch milliseconds. */
function time(query: Query, name: string): number | undefined {
  const raw = text(query, name);
  if (raw === undefined) return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TIME) {
    throw invalid('invalid_time', `${name} must be an RFC 3339 timestamp or epoch milliseconds`, name);
  }
  return ms;
}

/** The last millisecond of year 9999: later instants are not timestamps any store here accepts. */
export const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Which requests a caller lists or summarises (GET /requests, /summaries/*). */
export interface RequestQuery {
  readonly agentId?: string;
  readonly runId?: string;
  readonly verdict?: string;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly limit: number;
}

/** Reads `?agentId&runId&verdict&from&to&limit`; each error names the parameter at fault. */
export function requestQuery(query: Query): RequestQuery {
  const { agentId, verdict, fromMs, toMs, limit } = runFilter(query);
  return { agentId, runId: text(query, 'runId'), verdict, fromMs, toMs, limit };
}
