import {
  LedgerHeld,
  LedgerHeldSchema,
  LedgerReleased,
  LedgerReleasedSchema,
  LedgerSettled,
  LedgerSettledSchema,
  Topic,
} from '@warden/contracts';
import { assertNever } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';
import { MetersJson, withCharges } from './meters.json';

/** budget.tenant_usage: one row per tenant, the meters of its cross-run budgets (tool-wide, agent, tenant). */
export interface TenantUsageRow {
  /** The tenant id. */
  readonly id: string;
  readonly meters: MetersJson;
  /** The ledger's seq of the last event applied: a duplicated record is skipped. */
  readonly seq: number;
  readonly updated_at: string;
  readonly [column: string]: unknown;
}

type Handled = LedgerHeld | LedgerSettled | LedgerReleased;

function timeOf(e: Handled): number {
  switch (e.$typeName) {
    case 'warden.budget.v1.LedgerHeld':
      return e.heldAtMs;
    case 'warden.budget.v1.LedgerSettled':
      return e.settledAtMs;
    case 'warden.budget.v1.LedgerReleased':
      return e.releasedAtMs;
    default:
      return assertNever(e, 'event');
  }
}

export const tenantUsageProjection: ProjectionDefinition<TenantUsageRow> = {
  name: 'tenant-usage',
  table: 'budget.tenant_usage',
  topics: [Topic.budgetLedger],
  handles: [LedgerHeldSchema.typeName, LedgerSettledSchema.typeName, LedgerReleasedSchema.typeName],
  rowId: (event) => (event.data as Handled).tenantId || undefined,
  evolve(row, event) {
    const e = event.data as Handled;
    if (row && e.seq <= row.seq) return row;
    const at = timeOf(e);
    return {
      id: e.tenantId,
      meters: withCharges(row?.meters ?? {}, e.charges, at),
      seq: e.seq,
      updated_at: new Date(at).toISOString(),
    };
  },
};
