import { RunFilter } from '@warden/trace-domain';
import { DataSource } from 'typeorm';
import { VERDICT_COUNTERS } from './runs.projection';

/** A run as the API serves it (without the per-request memory of the projection). */
export interface RunSummary {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly first_seen_at: Date | null;
  readonly last_seen_at: Date | null;
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  readonly pending: number;
  readonly expired: number;
  readonly already_completed: number;
  readonly tokens: number;
  readonly cost_micros: number;
  readonly last_verdict: string | null;
  readonly last_request_id: string | null;
  readonly last_decided_at: Date | null;
  readonly halted: boolean;
}

const SUMMARY = `tenant_id, agent_id, run_id, first_seen_at, last_seen_at, requests, allowed, denied, pending, expired,
  already_completed, tokens, cost_micros, last_verdict, last_request_id, last_decided_at, halted`;

/** The runs of the tenant with this run id: one per agent that used it (usually one). */
export async function getRuns(
  db: DataSource,
  tenantId: string,
  runId: string,
  agentId?: string,
): Promise<RunSummary[]> {
  const args: unknown[] = [tenantId, runId];
  if (agentId) args.push(agentId);
  return db.query(
    `SELECT ${SUMMARY} FROM trace.runs WHERE tenant_id = $1 AND run_id = $2 ${agentId ? 'AND agent_id = $3' : ''}
      ORDER BY agent_id`,
    args,
  );
}

/** A tenant's runs, most recently active first. */
export async function listRuns(db: DataSource, tenantId: string, filter: RunFilter): Promise<RunSummary[]> {
  const args: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  const arg = (value: unknown) => {
    args.push(value);
    return `$${args.length}`;
  };
  if (filter.agentId) where.push(`agent_id = ${arg(filter.agentId)}`);
  if (filter.verdict) {
    const counter = VERDICT_COUNTERS[filter.verdict as keyof typeof VERDICT_COUNTERS];
    where.push(counter ? `"${counter}" > 0` : 'false');
  }
  if (filter.fromMs !== undefined) where.push(`last_seen_at >= ${arg(new Date(filter.fromMs).toISOString())}`);
  if (filter.toMs !== undefined) where.push(`first_seen_at <= ${arg(new Date(filter.toMs).toISOString())}`);
  return db.query(
    `SELECT ${SUMMARY} FROM trace.runs WHERE ${where.join(' AND ')}
      ORDER BY last_seen_at DESC NULLS LAST, agent_id, run_id LIMIT ${arg(filter.limit)}`,
    args,
  );
}
