import { BudgetThresholdCrossed, BudgetThresholdCrossedSchema, create, GateRequested } from '@warden/contracts';
import { Crossing } from './meters';

/** The event for a threshold a meter reached, with the request that took it there. */
export function crossingEvent(
  c: Crossing,
  at: { readonly reservationId: string; readonly request: GateRequested; readonly at: number },
): BudgetThresholdCrossed {
  return create(BudgetThresholdCrossedSchema, {
    tenantId: at.request.tenantId,
    budgetId: c.limit.budgetId,
    budgetName: c.limit.name,
    scope: c.limit.scope,
    dimension: c.limit.dimension,
    window: c.limit.window,
    meter: c.limit.meter,
    slotMs: c.slot,
    threshold: c.threshold,
    usage: c.usage,
    limit: c.limit.limit,
    reservationId: at.reservationId,
    requestId: at.request.requestId,
    runId: at.request.runId,
    crossedAtMs: at.at,
  });
}
