import { DataSource } from 'typeorm';
import { RequestRow } from './requests.projection';

/** One request's whole chain, if it belongs to the tenant. */
export async function getRequest(db: DataSource, tenantId: string, requestId: string): Promise<RequestRow | undefined> {
  const rows: RequestRow[] = await db.query(`SELECT * FROM trace.requests WHERE id = $1 AND tenant_id = $2`, [
    requestId,
    tenantId,
  ]);
  return rows[0];
}

/** A request as a line of a run's timeline; the full chain is one GET /requests/:id away. */
export interface TimelineEntry {
  readonly id: string;
  readonly step_id: string | null;
  readonly attempt: number | null;
  readonly action_kind: string | null;
  readonly tool: string | null;
  readonly action: string | null;
  readonly requested_at: Date | null;
  readonly reservation_status: string | null;
  readonly verdict: string | null;
  readonly reason: string | null;
  readonly decided_at: Date | null;
  readonly decision_latency_ms: number | null;
  readonly approval_status: string | null;
  readonly outcome_status: string | null;
  readonly actual_tokens: number | null;
  readonly cost_micros: number | null;
}

/** The requests of one run in the order they were made (requests not seen yet last). */
export async function runTimeline(
  db: DataSource,
  run: { readonly tenantId: string; readonly agentId: string; readonly runId: string },
  limit: number,
): Promise<TimelineEntry[]> {
  return db.query(
    `SELECT id, step_id, attempt, action_kind, tool, action, requested_at, reservation_status, verdict, reason,
            decided_at, decision_latency_ms, approval_status, outcome_status, actual_tokens, cost_micros
       FROM trace.requests
      WHERE tenant_id = $1 AND agent_id = $2 AND run_id = $3
      ORDER BY requested_at NULLS LAST, id
      LIMIT $4`,
    [run.tenantId, run.agentId, run.runId, limit],
  );
}

/** Every request of a run id (any agent of the tenant), whole, in the order they were made. */
export async function requestsOfRun(db: DataSource, tenantId: string, runId: string): Promise<RequestRow[]> {
  return db.query(
    `SELECT * FROM trace.requests WHERE tenant_id = $1 AND run_id = $2 ORDER BY requested_at NULLS LAST, id`,
    [tenantId, runId],
  );
}
