import { ApprovalTaskStatus } from '@warden/approval-domain';
import { DataSource } from 'typeorm';
import { RiskClassName, TaskRow } from './tasks.projection';

export interface TaskQuery {
  readonly tenantId: string;
  readonly status?: ApprovalTaskStatus;
  readonly riskClass?: RiskClassName;
  readonly limit?: number;
}

/** The tasks of one tenant, newest first, optionally of one status and risk class. */
export async function listTasks(db: DataSource, q: TaskQuery): Promise<TaskRow[]> {
  const args: unknown[] = [q.tenantId];
  const where = ['tenant_id = $1'];
  if (q.status) {
    args.push(q.status);
    where.push(`status = $${args.length}`);
  }
  if (q.riskClass) {
    args.push(q.riskClass);
    where.push(`risk_class = $${args.length}`);
  }
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
