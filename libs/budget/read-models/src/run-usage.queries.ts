import { DataSource } from 'typeorm';
import { RunUsageRow } from './run-usage.projection';

/** A run's usage as the API shows it (the ledger stays internal). */
export type RunUsage = Omit<RunUsageRow, 'ledger'>;

export async function getRunUsage(db: DataSource, tenantId: string, runId: string): Promise<RunUsage | undefined> {
  const rows: RunUsage[] = await db.query(
    `SELECT id, tenant_id, agent_id, reserved_tokens, settled_tokens, released_tokens, reservations, refusals,
            cost_micros, currency, updated_at
       FROM budget.run_usage WHERE id = $1 AND tenant_id = $2`,
    [runId, tenantId],
  );
  return rows[0];
}
