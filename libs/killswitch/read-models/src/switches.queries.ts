import { DataSource } from 'typeorm';
import { SwitchRow } from './switches.projection';

export interface SwitchQuery {
  /** Only switches in force now (not released, not expired); otherwise the history. */
  readonly active?: boolean;
  /** Only this tenant's switches and the global ones (tenant isolation); empty = all. */
  readonly tenantId?: string;
  readonly limit?: number;
}

export async function listSwitches(db: DataSource, q: SwitchQuery): Promise<SwitchRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.active) where.push(`released_at IS NULL AND (expires_at IS NULL OR expires_at > now())`);
  if (q.tenantId) {
    args.push(q.tenantId);
    where.push(`tenant_id IN ($${args.length}, '')`);
  }
  args.push(Math.min(q.limit ?? 100, 1000));
  return db.query(
    `SELECT * FROM killswitch.switches ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY engaged_at DESC, id LIMIT $${args.length}`,
    args,
  );
}

export async function getSwitch(db: DataSource, id: string): Promise<SwitchRow | undefined> {
  const rows: SwitchRow[] = await db.query(`SELECT * FROM killswitch.switches WHERE id = $1`, [id]);
  return rows[0];
}
