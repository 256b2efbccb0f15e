import { Topic } from '@warden/contracts';
import {
  budgetDefinition,
  BudgetDefinitionCommand,
  BudgetDefinitionEvent,
  BudgetDefinitionState,
} from '@warden/budget-domain';
import { CommandGateway, ServiceRuntime, streamTable, Table } from '@warden/platform';

export type BudgetDefinitionGateway = CommandGateway<
  BudgetDefinitionCommand,
  BudgetDefinitionState,
  BudgetDefinitionEvent
>;
export type BudgetDefinitionTable = Table<Map<string, BudgetDefinitionState>>;
export const BUDGET_DEFINITIONS = Symbol('BudgetDefinitionGateway');

/**
 * Wires the budget-definition aggregate (stream = tenant id, on budget.events): one table, read by
 * the HTTP commands and by both budget processors.
 */
export function wireBudgetDefinitions(
  runtime: ServiceRuntime,
  instanceId: string,
): { table: BudgetDefinitionTable; gateway: BudgetDefinitionGateway } {
  const table = runtime.table(streamTable('budget-definitions', [Topic.budgetEvents], budgetDefinition), instanceId);
  const gateway = new CommandGateway(budgetDefinition, table, runtime.port, runtime.prefix, 'warden://budget', (e) => ({
    topic: Topic.budgetEvents,
    key: e.tenantId,
    tenantId: e.tenantId,
    agentId: '',
    runId: '',
  }));
  return { table, gateway };
}
