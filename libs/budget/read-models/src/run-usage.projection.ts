import {
  BudgetReleasedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetSettledSchema,
  Topic,
} from '@warden/contracts';
import { RunBudgetEvent } from '@warden/budget-domain';
import { assertNever } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';

/** What the projection remembers of each reservation, so a re-emitted answer is counted once. */
export interface LedgerEntry {
  readonly status: 'reserved' | 'refused' | 'settled' | 'released';
  readonly tokens: number;
}

/** budget.run_usage: one row per run, for the usage API. */
export interface RunUsageRow {
  /** The run id. */
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  /** Tokens held by open reservations (reserved, not yet settled or released). */
  readonly reserved_tokens: number;
  /** Actual tokens of settled reservations. */
  readonly settled_tokens: number;
  /** Tokens of reservations given back (denied, expired or failed steps). */
  readonly released_tokens: number;
  /** Reservations granted and refused. */
  readonly reservations: number;
  readonly refusals: number;
  /** Actual cost of settled steps, in the run's currency (the first one reported). */
  readonly cost_micros: number;
  readonly currency: string;
  readonly ledger: Readonly<Record<string, LedgerEntry>>;
  readonly updated_at: string;
  readonly [column: string]: unknown;
}

const iso = (ms: number) => new Date(ms).toISOString();

function runIdOf(event: RunBudgetEvent): string {
  switch (event.$typeName) {
    case 'warden.budget.v1.BudgetReserved':
    case 'warden.budget.v1.BudgetReservationRefused':
      return event.request?.runId ?? '';
    default:
      return event.runId;
  }
}

/** The row after the budget stage answered a request, first creating it when this is the run's first answer. */
function answered(
  row: RunUsageRow | null,
  answer: BudgetReserved | BudgetReservationRefused,
  entry: LedgerEntry,
  at: number,
): RunUsageRow {
  const base: RunUsageRow = row ?? {
    id: answer.request?.runId ?? '',
    tenant_id: answer.request?.tenantId ?? '',
    agent_id: answer.request?.agentId ?? '',
    reserved_tokens: 0,
    settled_tokens: 0,
    released_tokens: 0,
    reservations: 0,
    refusals: 0,
    cost_micros: 0,
    currency: '',
    ledger: {},
    updated_at: iso(at),
  };
  return {
    ...base,
    reserved_tokens: base.reserved_tokens + entry.tokens,
    reservations: base.reservations + (entry.status === 'reserved' ? 1 : 0),
    refusals: base.refusals + (entry.status === 'refused' ? 1 : 0),
    ledger: { ...base.ledger, [answer.reservationId]: entry },
    updated_at: iso(at),
  };
}

export const runUsageProjection: ProjectionDefinition<RunUsageRow> = {
  name: 'run-usage',
  table: 'budget.run_usage',
  topics: [Topic.budgetReservations],
  handles: [
    BudgetReservedSchema.typeName,
    BudgetReservationRefusedSchema.typeName,
    BudgetSettledSchema.typeName,
    BudgetReleasedSchema.typeName,
  ],
  rowId: (event) => runIdOf(event.data as RunBudgetEvent) || undefined,
  evolve(row, event) {
    const e = event.data as RunBudgetEvent;
    const entry = row?.ledger[e.reservationId];
    switch (e.$typeName) {
      case 'warden.budget.v1.BudgetReserved':
        return entry ? row : answered(row, e, { status: 'reserved', tokens: e.reservedTokens }, e.reservedAtMs);
      case 'warden.budget.v1.BudgetReservationRefused':
        return entry ? row : answered(row, e, { status: 'refused', tokens: 0 }, e.refusedAtMs);
      case 'warden.budget.v1.BudgetSettled': {
        if (!row || entry?.status !== 'reserved') return row;
        const cost = e.actualCost;
        const counts = cost !== undefined && (row.currency === '' || row.currency === cost.currency);
        return {
          ...row,
          reserved_tokens: row.reserved_tokens - entry.tokens,
          settled_tokens: row.settled_tokens + e.actualTokens,
          cost_micros: row.cost_micros + (counts ? cost.micros : 0),
          currency: counts ? cost.currency : row.currency,
          ledger: { ...row.ledger, [e.reservationId]: { status: 'settled', tokens: e.actualTokens } },
          updated_at: iso(e.settledAtMs),
        };
      }
      case 'warden.budget.v1.BudgetReleased':
        if (!row || entry?.status !== 'reserved') return row;
        return {
          ...row,
          reserved_tokens: row.reserved_tokens - entry.tokens,
          released_tokens: row.released_tokens + entry.tokens,
          ledger: { ...row.ledger, [e.reservationId]: { status: 'released', tokens: entry.tokens } },
          updated_at: iso(e.releasedAtMs),
        };
      default:
        return assertNever(e, 'event');
    }
  },
};
