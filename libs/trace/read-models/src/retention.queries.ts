import { DataSource } from 'typeorm';

/** Why a run is exempt from retention. */
export interface HeldRun {
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  /** `legal` or `incident` (an explicit hold) or `kill_switch`. */
  readonly held_by: string;
  /** The hold id or the kill switch id. */
  readonly ref: string;
  readonly reason: string | null;
}

/**
 * The holds on a run `r` of trace.runs: explicit holds in force, and kill switches that preserve
 * traces (effect `preserve_traces`, or no effects listed, which means all) whose scope covers the
 * run and that were in force while it was active. A switch scoped to a tool covers the run when
 * the run asked for that tool.
 */
const HOLDS_OF_RUN = `
  SELECT h.kind AS held_by, h.id AS ref, h.reason
    FROM trace.holds h
   WHERE h.tenant_id = r.tenant_id AND h.run_id = r.run_id AND (h.agent_id = '' OR h.agent_id = r.agent_id)
     AND h.placed_at IS NOT NULL AND h.released_at IS NULL
  UNION ALL
  SELECT 'kill_switch', k.id, k.reason
    FROM trace.kill_switches k
   WHERE k.engaged_at IS NOT NULL
     AND (k.effects = '[]'::jsonb OR k.effects ? 'preserve_traces')
     AND (k.tenant_id = '' OR k.tenant_id = r.tenant_id)
     AND (k.agent_id = '' OR k.agent_id = r.agent_id)
     AND (k.run_id = '' OR k.run_id = r.run_id)
     AND (k.tool = '' OR EXISTS (SELECT 1 FROM trace.requests q
           WHERE q.tenant_id = r.tenant_id AND q.agent_id = r.agent_id AND q.run_id = r.run_id AND q.tool = k.tool))
     AND k.engaged_at <= coalesce(r.last_seen_at, k.engaged_at)
     AND (k.released_at IS NULL OR k.released_at >= coalesce(r.first_seen_at, k.released_at))`;

/** The tenant's held runs (or one run's holds), each with what holds it. */
export async function heldRuns(
  db: DataSource,
  tenantId: string,
  run?: { readonly runId: string; readonly agentId?: string },
): Promise<HeldRun[]> {
  const args: unknown[] = [tenantId];
  let filter = '';
  if (run) {
    args.push(run.runId);
    filter += ` AND r.run_id = $${args.length}`;
    if (run.agentId) {
      args.push(run.agentId);
      filter += ` AND r.agent_id = $${args.length}`;
    }
  }
  return db.query(
    `SELECT r.tenant_id, r.agent_id, r.run_id, held.held_by, held.ref, held.reason
       FROM trace.runs r CROSS JOIN LATERAL (${HOLDS_OF_RUN}) AS held
      WHERE r.tenant_id = $1 ${filter}
      ORDER BY r.tenant_id, r.agent_id, r.run_id, held.held_by, held.ref`,
    args,
  );
}

/** Every hold placed in the tenant, in force or released. */
export async function listHolds(db: DataSource, tenantId: string): Promise<object[]> {
  return db.query(`SELECT * FROM trace.holds WHERE tenant_id = $1 ORDER BY placed_at NULLS LAST, id`, [tenantId]);
}

export interface Purged {
  readonly runs: number;
  readonly requests: number;
}

/**
 * Retention: deletes the runs last active before `cutoff`, and their requests, unless held.
 * Works in batches of `batch` runs so no transaction holds many locks. The audit chain is never
 * purged: deleting links would break its verification (docs/adr/0063).
 */
export async function purgeRuns(db: DataSource, cutoff: Date, batch = 500): Promise<Purged> {
  let runs = 0;
  let requests = 0;
  for (;;) {
    const [result] = await db.query(
      `WITH expired AS (
         SELECT r.id, r.tenant_id, r.agent_id, r.run_id FROM trace.runs r
          WHERE r.last_seen_at < $1 AND NOT EXISTS (${HOLDS_OF_RUN})
          ORDER BY r.last_seen_at LIMIT $2
       ), gone_requests AS (
         DELETE FROM trace.requests q USING expired e
          WHERE q.tenant_id = e.tenant_id AND q.agent_id = e.agent_id AND q.run_id = e.run_id
         RETURNING q.id
       ), gone_runs AS (
         DELETE FROM trace.runs r USING expired e WHERE r.id = e.id RETURNING r.id
       )
       SELECT (SELECT count(*) FROM gone_runs)::int AS runs, (SELECT count(*) FROM gone_requests)::int AS requests`,
      [cutoff.toISOString(), batch],
    );
    runs += result.runs;
    requests += result.requests;
    if (result.runs < batch) return { runs, requests };
  }
}
