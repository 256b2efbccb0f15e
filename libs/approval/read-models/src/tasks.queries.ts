import { ApprovalTaskStatus } from '@warden/approval-domain';
import { DataSource } from 'typeorm';
import { StandingRow, StandingUseRow } from './standing.projection';
import { RiskClassName, TaskRow } from './tasks.projection';

export interface TaskQuery {
  readonly tenantId: string;
  readonly status?: ApprovalTaskStatus;
  readonly riskClass?: RiskClassName;
  /** The owning team of the agent (registry profile owner.team). */
  readonly team?: string;
  readonly limit?: number;
}

/** The tasks of one tenant, newest first, optionally of one status, risk class and owning team. */
export async function listTasks(db: DataSource, q: TaskQuery): Promise<TaskRow[]> {
  const args: unknown[] = [q.tenantId];
  const where = ['tenant_id = $1'];
  const filter = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    args.push(value);
    where.push(`${column} = $${args.length}`);
  };
  filter('status', q.status);
  filter('risk_class', q.riskClass);
  filter('owner_team', q.team);
  args.push(Math.min(q.limit ?? 100, 1000));
  return db.query(
    `SELECT * FROM approval.tasks WHERE ${where.join(' AND ')} ORDER BY opened_at DESC, id LIMIT $${args.length}`,
    args,
  );
}

/** One task, only if it belongs to the tenant. */
export async function getTask(db: DataSource, tenantId: string, id: string): Promise<TaskRow | undefined> {
  const rows: TaskRow[] = await db.query(`SELECT * FROM approval.tasks WHERE id = $1 AND tenant_id = $2`, [
    id,
    tenantId,
  ]);
  return rows[0];
}

export interface QueueRow {
  readonly risk_class: RiskClassName;
  readonly owner_team: string;
  readonly open: number;
  readonly escalated: number;
  readonly oldest_opened_at: string;
}

/** The tenant's open queues: open tasks by risk class and owning team. */
export async function listQueues(db: DataSource, tenantId: string): Promise<QueueRow[]> {
  return db.query(
    `SELECT risk_class, owner_team, count(*)::int AS open,
            count(escalated_at)::int AS escalated, min(opened_at) AS oldest_opened_at
       FROM approval.tasks WHERE tenant_id = $1 AND status = 'open'
      GROUP BY risk_class, owner_team ORDER BY risk_class, owner_team`,
    [tenantId],
  );
}

export type StandingWithUses = StandingRow & { readonly uses: number; readonly recent_uses: readonly StandingUseRow[] };

/** The tenant's standing approvals, newest first, each with its most recent uses. */
export async function listStanding(db: DataSource, tenantId: string, id?: string): Promise<StandingWithUses[]> {
  const rows: (StandingRow & { readonly uses: number })[] = await db.query(
    `SELECT s.*, (SELECT count(*)::int FROM approval.standing_approval_uses u
                    WHERE u.tenant_id = s.tenant_id AND u.standing_id = s.id) AS uses
       FROM approval.standing_approvals s WHERE s.tenant_id = $1 AND ($2::text IS NULL OR s.id = $2)
      ORDER BY s.granted_at DESC, s.id LIMIT 500`,
    [tenantId, id ?? null],
  );
  if (rows.length === 0) return [];
  const uses: StandingUseRow[] = await db.query(
    `SELECT * FROM (
       SELECT *, row_number() OVER (PARTITION BY standing_id ORDER BY used_at DESC) AS n
         FROM approval.standing_approval_uses WHERE tenant_id = $1 AND standing_id = ANY($2)
     ) u WHERE n <= 50 ORDER BY used_at DESC`,
    [tenantId, rows.map((r) => r.id)],
  );
  return rows.map((r) => ({
    ...r,
    recent_uses: uses.filter((u) => u.standing_id === r.id).map(({ n: _n, ...u }) => u as StandingUseRow),
  }));
}
