import { DataSource } from 'typeorm';
import { MeterUsage, MetersJson, usageAt } from './meters.json';
import { RunUsageRow } from './run-usage.projection';

/** A run's usage as the API shows it: its totals, and its own meters in their current window. */
export type RunUsage = Omit<RunUsageRow, 'ledger' | 'meters'> & { readonly meters: MeterUsage[] };

export async function getRunUsage(
  db: DataSource,
  tenantId: string,
  runId: string,
  now: number,
): Promise<RunUsage | undefined> {
  const rows: (Omit<RunUsageRow, 'ledger'> & { meters: MetersJson })[] = await db.query(
    `SELECT id, tenant_id, agent_id, reserved_tokens, settled_tokens, released_tokens, reservations, refusals,
            cost_micros, currency, meters, updated_at
       FROM budget.run_usage WHERE id = $1 AND tenant_id = $2`,
    [runId, tenantId],
  );
  const row = rows[0];
  return row && { ...row, meters: usageAt(row.meters, now) };
}

/** The tenant's cross-run meters (tool-wide, agent, tenant) in their current window. */
export async function getTenantUsage(db: DataSource, tenantId: string, now: number): Promise<MeterUsage[]> {
  const rows: { meters: MetersJson }[] = await db.query(`SELECT meters FROM budget.tenant_usage WHERE id = $1`, [
    tenantId,
  ]);
  return rows.length === 0 ? [] : usageAt(rows[0].meters, now);
}

export const COST_GROUPS = { run: 'run_id', agent: 'agent_id', outcome: 'business_outcome' } as const;
export type CostGroup = keyof typeof COST_GROUPS;

export interface CostRollup {
  readonly key: string;
  readonly currency: string;
  readonly costMicros: number;
  readonly tokens: number;
  readonly steps: number;
  readonly failedSteps: number;
}

/**
 * Spend rolled up per run, agent or business outcome (one line per currency), dearest first,
 * from the step costs; optionally one key only and a time range of the steps.
 */
export async function costRollup(
  db: DataSource,
  tenantId: string,
  by: CostGroup,
  filter: { readonly key?: string; readonly from?: string; readonly to?: string; readonly limit: number },
): Promise<CostRollup[]> {
  const column = COST_GROUPS[by];
  const rows: { key: string; currency: string; cost_micros: string; tokens: string; steps: string; failed: string }[] =
    await db.query(
      `SELECT ${column} AS key, currency, sum(cost_micros) AS cost_micros, sum(tokens) AS tokens,
              count(*) AS steps, count(*) FILTER (WHERE outcome = 'failed') AS failed
         FROM budget.step_costs
        WHERE tenant_id = $1 AND ($2::text IS NULL OR ${column} = $2)
          AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
        GROUP BY ${column}, currency
        ORDER BY sum(cost_micros) DESC, ${column}
        LIMIT $5`,
      [tenantId, filter.key ?? null, filter.from ?? null, filter.to ?? null, filter.limit],
    );
  return rows.map((r) => ({
    key: r.key,
    currency: r.currency,
    costMicros: Number(r.cost_micros),
    tokens: Number(r.tokens),
    steps: Number(r.steps),
    failedSteps: Number(r.failed),
  }));
}
