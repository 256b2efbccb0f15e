import { DataSource } from 'typeorm';
import { DecisionRow } from './decisions.projection';

export async function getDecision(
  db: DataSource,
  tenantId: string,
  requestId: string,
): Promise<DecisionRow | undefined> {
  const rows: DecisionRow[] = await db.query(`SELECT * FROM policy.decisions WHERE id = $1 AND tenant_id = $2`, [
    requestId,
    tenantId,
  ]);
  return rows[0];
}
