import { BudgetReleased, BudgetReleasedSchema, BudgetSettled, BudgetSettledSchema, Topic } from '@warden/contracts';
import { ProjectionDefinition } from '@warden/platform';

/** budget.step_costs: one row per reservation that cost something: what its step actually used. */
export interface StepCostRow {
  /** The reservation id. */
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly run_id: string;
  readonly request_id: string;
  /** The request's business outcome label ('' when it had none). */
  readonly business_outcome: string;
  /** completed (settled) or failed (released with the use it reported). */
  readonly outcome: 'completed' | 'failed';
  readonly currency: string;
  readonly cost_micros: number;
  readonly tokens: number;
  readonly at: string;
  readonly [column: string]: unknown;
}

type Handled = BudgetSettled | BudgetReleased;

/**
 * The cost of each step, the facts cost per run, agent and business outcome are summed from. A
 * settlement sets the row (a late one replaces the expiry's); a release makes one only when the
 * failed step reported a use.
 */
export const stepCostsProjection: ProjectionDefinition<StepCostRow> = {
  name: 'step-costs',
  table: 'budget.step_costs',
  topics: [Topic.budgetReservations],
  handles: [BudgetSettledSchema.typeName, BudgetReleasedSchema.typeName],
  rowId: (event) => (event.data as Handled).reservationId || undefined,
  evolve(row, event) {
    const e = event.data as Handled;
    const base = {
      id: e.reservationId,
      tenant_id: e.tenantId,
      agent_id: e.agentId,
      run_id: e.runId,
      request_id: e.requestId,
      business_outcome: e.businessOutcome,
    };
    if (e.$typeName === 'warden.budget.v1.BudgetSettled') {
      return {
        ...base,
        outcome: 'completed',
        currency: e.actualCost?.currency ?? '',
        cost_micros: e.actualCost?.micros ?? 0,
        tokens: e.actualTokens,
        at: new Date(e.settledAtMs).toISOString(),
      };
    }
    if (row || (e.chargedTokens === 0 && !e.chargedCost)) return row;
    return {
      ...base,
      outcome: 'failed',
      currency: e.chargedCost?.currency ?? '',
      cost_micros: e.chargedCost?.micros ?? 0,
      tokens: e.chargedTokens,
      at: new Date(e.releasedAtMs).toISOString(),
    };
  },
};
