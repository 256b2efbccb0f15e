import {
  BudgetHeld,
  BudgetHeldSchema,
  BudgetReleased,
  BudgetReleasedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetSettled,
  BudgetSettledSchema,
  Money,
  Topic,
} from '@warden/contracts';
import { assertNever } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';
import { MetersJson, withCharges } from './meters.json';

/** What the projection remembers of each reservation, so a re-emitted event is counted once. */
export interface LedgerEntry {
  readonly status: 'reserved' | 'refused' | 'settled' | 'released' | 'expired';
  readonly tokens: number;
  /** The tenant's ledger refused it after the run held its share (the deny decision releases that). */
  readonly refusedByLedger?: boolean;
}

/** budget.run_usage: one row per run, for the usage API. */
export interface RunUsageRow {
  /** The run id. */
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  /** Tokens held by open reservations (reserved, not yet settled or released). */
  readonly reserved_tokens: number;
  /** Actual tokens used: by settled steps, and what failed steps reported. */
  readonly settled_tokens: number;
  /** Tokens of reservations given back (denied, expired or failed steps). */
  readonly released_tokens: number;
  /** Reservations granted and refused. */
  readonly reservations: number;
  readonly refusals: number;
  /** Actual cost of settled and failed steps, in the run's currency (the first one reported). */
  readonly cost_micros: number;
  readonly currency: string;
  /** The run's own meters (run budgets, tool budgets per run). */
  readonly meters: MetersJson;
  readonly ledger: Readonly<Record<string, LedgerEntry>>;
  readonly updated_at: string;
  readonly [column: string]: unknown;
}

type Handled = BudgetReserved | BudgetReservationRefused | BudgetHeld | BudgetSettled | BudgetReleased;

const iso = (ms: number) => new Date(ms).toISOString();

function runIdOf(event: Handled): string {
  switch (event.$typeName) {
    case 'warden.budget.v1.BudgetReserved':
    case 'warden.budget.v1.BudgetReservationRefused':
    case 'warden.budget.v1.BudgetHeld':
      return event.request?.runId ?? '';
    default:
      return event.runId;
  }
}

/** The row after the budget stage answered a request, first creating it when this is the run's first answer. */
function answered(
  row: RunUsageRow | null,
  answer: BudgetReserved | BudgetReservationRefused | BudgetHeld,
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
    meters: {},
    ledger: {},
    updated_at: iso(at),
  };
  const charges = answer.$typeName === BudgetReservationRefusedSchema.typeName ? [] : answer.charges;
  return {
    ...base,
    reserved_tokens: base.reserved_tokens + entry.tokens,
    reservations: base.reservations + (entry.status === 'reserved' ? 1 : 0),
    refusals: base.refusals + (entry.status === 'refused' ? 1 : 0),
    meters: withCharges(base.meters, charges, at),
    ledger: { ...base.ledger, [answer.reservationId]: entry },
    updated_at: iso(at),
  };
}

/** Adds a step's cost when it is in the run's currency (the first one reported). */
function withCost(row: RunUsageRow, cost: Money | undefined): Pick<RunUsageRow, 'cost_micros' | 'currency'> {
  const counts = cost !== undefined && (row.currency === '' || row.currency === cost.currency);
  return {
    cost_micros: row.cost_micros + (counts ? cost.micros : 0),
    currency: counts ? cost.currency : row.currency,
  };
}

export const runUsageProjection: ProjectionDefinition<RunUsageRow> = {
  name: 'run-usage',
  table: 'budget.run_usage',
  topics: [Topic.budgetReservations],
  handles: [
    BudgetReservedSchema.typeName,
    BudgetReservationRefusedSchema.typeName,
    BudgetHeldSchema.typeName,
    BudgetSettledSchema.typeName,
    BudgetReleasedSchema.typeName,
  ],
  rowId: (event) => runIdOf(event.data as Handled) || undefined,
  evolve(row, event) {
    const e = event.data as Handled;
    const entry = row?.ledger[e.reservationId];
    switch (e.$typeName) {
      case 'warden.budget.v1.BudgetReserved':
        return entry ? row : answered(row, e, { status: 'reserved', tokens: e.reservedTokens }, e.reservedAtMs);
      case 'warden.budget.v1.BudgetHeld':
        return entry ? row : answered(row, e, { status: 'reserved', tokens: e.ask?.tokens ?? 0 }, e.heldAtMs);
      case 'warden.budget.v1.BudgetReservationRefused': {
        if (!entry) return answered(row, e, { status: 'refused', tokens: 0 }, e.refusedAtMs);
        if (!row || !e.fromLedger || entry.refusedByLedger || entry.status === 'refused') return row;
        return {
          ...row,
          reservations: row.reservations - 1,
          refusals: row.refusals + 1,
          ledger: { ...row.ledger, [e.reservationId]: { ...entry, refusedByLedger: true } },
          updated_at: iso(e.refusedAtMs),
        };
      }
      case 'warden.budget.v1.BudgetSettled': {
        if (!row || (entry?.status !== 'reserved' && entry?.status !== 'expired')) return row;
        const held = entry.status === 'reserved' ? entry.tokens : 0;
        return {
          ...row,
          ...withCost(row, e.actualCost),
          reserved_tokens: row.reserved_tokens - held,
          released_tokens: row.released_tokens - (entry.status === 'expired' ? entry.tokens : 0),
          settled_tokens: row.settled_tokens + e.actualTokens,
          meters: withCharges(row.meters, e.charges, e.settledAtMs),
          ledger: { ...row.ledger, [e.reservationId]: { ...entry, status: 'settled', tokens: e.actualTokens } },
          updated_at: iso(e.settledAtMs),
        };
      }
      case 'warden.budget.v1.BudgetReleased':
        if (!row || entry?.status !== 'reserved') return row;
        return {
          ...row,
          ...withCost(row, e.chargedCost),
          reserved_tokens: row.reserved_tokens - entry.tokens,
          released_tokens: row.released_tokens + entry.tokens,
          settled_tokens: row.settled_tokens + e.chargedTokens,
          meters: withCharges(row.meters, e.charges, e.releasedAtMs),
          ledger: { ...row.ledger, [e.reservationId]: { ...entry, status: e.expired ? 'expired' : 'released' } },
          updated_at: iso(e.releasedAtMs),
        };
      default:
        return assertNever(e, 'event');
    }
  },
};
