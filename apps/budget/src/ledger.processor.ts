import {
  covering,
  Envelope,
  HoldExtensionRequested,
  HoldExtensionRequestedSchema,
  HoldReleaseRequested,
  HoldReleaseRequestedSchema,
  HoldRequestedSchema,
  HoldSettlementRequested,
  HoldSettlementRequestedSchema,
  is,
  Topic,
} from '@warden/contracts';
import { ledger, LedgerCommand, LedgerEvent, LedgerState, RunDefaults } from '@warden/budget-domain';
import { invalid } from '@warden/kernel';
import { Processor, Route, ServiceRuntime } from '@warden/platform';
import { BudgetDefinitionTable } from './budget-definitions';
import { ReferenceTables } from './reference-tables';

/** The tenant a ledger input belongs to: its stream id, which must be the record key. */
function tenantOf(input: Envelope): string {
  if (is(input, HoldRequestedSchema)) return input.data.request?.tenantId ?? '';
  return (input.data as HoldSettlementRequested | HoldReleaseRequested | HoldExtensionRequested).tenantId;
}

/**
 * The tenant ledger (stream = tenant id): the single writer of every cross-run budget of a tenant.
 * Consumes the run stage's hold requests on budget.holds, keeps its changelog on budget.ledger, and
 * answers each gate request on budget.reservations, in the partition of the request's run.
 */
export function wireLedger(
  runtime: ServiceRuntime,
  definitions: BudgetDefinitionTable,
  tables: ReferenceTables,
  defaults: RunDefaults,
): Processor<LedgerCommand, LedgerState, LedgerEvent> {
  return runtime.process<LedgerCommand, LedgerState, LedgerEvent>({
    name: 'budget-ledger',
    inputs: [Topic.budgetHolds],
    outputs: [Topic.budgetLedger],
    decider: ledger,
    tables: [tables.switches, definitions],
    command(input, ctx) {
      const tenantId = tenantOf(input);
      if (tenantId !== input.key) {
        throw invalid('tenant_id_mismatch', `record key ${input.key} is not the tenant id ${tenantId}`, 'tenantId');
      }
      if (is(input, HoldRequestedSchema)) {
        const request = input.data.request;
        const target = request && {
          tenantId: request.tenantId,
          agentId: request.agentId,
          runId: request.runId,
          tool: request.tool,
        };
        return {
          type: 'HoldBudget',
          hold: input.data,
          definitions: definitions.state.get(tenantId),
          defaults,
          killSwitchIds: target ? covering(tables.switches.state, target, ctx.now).map((s) => s.switchId) : [],
          now: ctx.now,
        };
      }
      if (is(input, HoldSettlementRequestedSchema)) {
        return {
          type: 'SettleHold',
          settlement: input.data,
          definitions: definitions.state.get(tenantId),
          defaults,
          now: ctx.now,
        };
      }
      if (is(input, HoldReleaseRequestedSchema)) return { type: 'ReleaseHold', release: input.data, now: ctx.now };
      if (is(input, HoldExtensionRequestedSchema)) return { type: 'ExtendHold', extension: input.data, now: ctx.now };
      return null;
    },
    route(event, input): Route {
      if (
        event.$typeName === 'warden.budget.v1.BudgetReserved' ||
        event.$typeName === 'warden.budget.v1.BudgetReservationRefused'
      ) {
        const r = event.request;
        return {
          topic: Topic.budgetReservations,
          key: r?.runId ?? '',
          byKey: true,
          tenantId: r?.tenantId ?? input.key,
          agentId: r?.agentId ?? '',
          runId: r?.runId ?? '',
        };
      }
      const runId = 'runId' in event ? event.runId : '';
      return { topic: Topic.budgetLedger, key: input.key, tenantId: input.key, agentId: '', runId };
    },
  });
}
