import { DataSource } from 'typeorm';

/** Which requests a list or a summary covers; the tenant always comes from the caller. */
export interface RequestFilter {
  readonly agentId?: string;
  readonly runId?: string;
  readonly verdict?: string;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly limit: number;
}

/** Decisions and cost of a set of requests: one row per agent, or one for the tenant. */
export interface DecisionSummary {
  readonly agent_id?: string;
  readonly runs: number;
  readonly requests: number;
  readonly allowed: number;
  readonly denied: number;
  readonly pending_approval: number;
  readonly expired: number;
  readonly already_completed: number;
  readonly undecided: number;
  readonly approvals: number;
  readonly completed: number;
  readonly failed: number;
  readonly tokens: number;
  readonly cost_micros: number;
  readonly decision_latency_ms_avg: number | null;
  readonly decision_latency_ms_max: number | null;
  readonly first_request_at: Date | null;
  readonly last_request_at: Date | null;
}

function where(tenantId: string, filter: Omit<RequestFilter, 'limit'>) {
  const args: unknown[] = [tenantId];
  const clauses = ['tenant_id = $1'];
  const arg = (value: unknown) => {
    args.push(value);
    return `$${args.length}`;
  };
  if (filter.agentId) clauses.push(`agent_id = ${arg(filter.agentId)}`);
  if (filter.runId) clauses.push(`run_id = ${arg(filter.runId)}`);
  if (filter.verdict) clauses.push(`verdict = ${arg(filter.verdict)}`);
  if (filter.fromMs !== undefined) clauses.push(`requested_at >= ${arg(new Date(filter.fromMs).toISOString())}`);
  if (filter.toMs !== undefined) clauses.push(`requested_at <= ${arg(new Date(filter.toMs).toISOString())}`);
  return { sql: clauses.join(' AND '), args, arg };
}

const SUMMARY = `count(DISTINCT run_id)::int AS runs,
  count(*)::int AS requests,
  count(*) FILTER (WHERE verdict = 'allow')::int AS allowed,
  count(*) FILTER (WHERE verdict = 'deny')::int AS denied,
  count(*) FILTER (WHERE verdict = 'pending_approval')::int AS pending_approval,
  count(*) FILTER (WHERE verdict = 'expired')::int AS expired,
  count(*) FILTER (WHERE verdict = 'already_completed')::int AS already_completed,
  count(*) FILTER (WHERE verdict IS NULL)::int AS undecided,
  count(*) FILTER (WHERE approval_status IS NOT NULL)::int AS approvals,
  count(*) FILTER (WHERE outcome_status = 'completed')::int AS completed,
  count(*) FILTER (WHERE outcome_status = 'failed')::int AS failed,
  coalesce(sum(actual_tokens), 0)::float8 AS tokens,
  coalesce(sum(cost_micros), 0)::float8 AS cost_micros,
  avg(decision_latency_ms)::float8 AS decision_latency_ms_avg,
  max(decision_latency_ms)::float8 AS decision_latency_ms_max,
  min(requested_at) AS first_request_at,
  max(requested_at) AS last_request_at`;

/** Per agent of the tenant (or one agent), the decisions and cost of its requests in the range. */
export async function agentSummaries(
  db: DataSource,
  tenantId: string,
  filter: Omit<RequestFilter, 'limit' | 'runId' | 'verdict'>,
): Promise<DecisionSummary[]> {
  const w = where(tenantId, filter);
  return db.query(
    `SELECT agent_id, ${SUMMARY} FROM trace.requests WHERE ${w.sql} GROUP BY agent_id ORDER BY agent_id`,
    w.args,
  );
}

/** The tenant's decisions and cost in the range, all agents together. */
export async function tenantSummary(
  db: DataSource,
  tenantId: string,
  filter: Omit<RequestFilter, 'limit' | 'runId' | 'verdict' | 'agentId'>,
): Promise<DecisionSummary & { readonly agents: number }> {
  const w = where(tenantId, filter);
  const [row] = await db.query(
    `SELECT count(DISTINCT agent_id)::int AS agents, ${SUMMARY} FROM trace.requests WHERE ${w.sql}`,
    w.args,
  );
  return row;
}

/** The tenant's requests, latest first, with the columns of a timeline entry plus their run. */
export async function listRequests(db: DataSource, tenantId: string, filter: RequestFilter): Promise<object[]> {
  const w = where(tenantId, filter);
  return db.query(
    `SELECT id, agent_id, run_id, step_id, attempt, action_kind, tool, action, model, requested_at,
            reservation_status, verdict, reason, decided_at, decision_latency_ms, policy_bundle_version,
            risk_score, approval_status, outcome_status, actual_tokens, cost_micros
       FROM trace.requests WHERE ${w.sql}
      ORDER BY requested_at DESC NULLS LAST, id LIMIT ${w.arg(filter.limit)}`,
    w.args,
  );
}
