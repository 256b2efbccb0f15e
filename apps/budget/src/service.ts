import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { runUsageProjection, stepCostsProjection, tenantUsageProjection } from '@warden/budget-read-models';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { BUDGET_DEFINITIONS, wireBudgetDefinitions } from './budget-definitions';
import { budgetHandlers, RUN_DEFAULTS } from './budget.cqrs';
import { BudgetConfig, runDefaults } from './config';
import { BudgetsHttpController } from './http/budgets.http.controller';
import { PricesHttpController } from './http/prices.http.controller';
import { UsageHttpController } from './http/usage.http.controller';
import { wireLedger } from './ledger.processor';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { Budgets1763800000000 } from './migrations/1763800000000-budgets';
import { openHoldsGauge } from './open-holds.gauge';
import { wireReferenceTables } from './reference-tables';
import { wireReservations } from './reservations.processor';

/**
 * The budget service: its runtime (definitions, the run stage and the tenant ledger processors,
 * usage and cost projections) and its Nest module.
 */
export function budgetService(config: BudgetConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('budget', config, {
    schema: 'budget',
    migrations: [Init1763700000000, Budgets1763800000000],
  });
  const defaults = runDefaults(config);
  const definitions = wireBudgetDefinitions(runtime, config.instanceId);
  const tables = wireReferenceTables(runtime, config.instanceId);
  const run = wireReservations(runtime, definitions.table, tables, {
    defaults,
    reservationTtlMs: config.reservationTtlMs,
    approvalHoldMs: config.approvalHoldMs,
    maxDeadlineMs: config.gateMaxDeadlineMs,
  });
  const ledger = wireLedger(runtime, definitions.table, tables, defaults);
  openHoldsGauge(runtime.metrics.registry, run, ledger);
  runtime.project(runUsageProjection);
  runtime.project(tenantUsageProjection);
  runtime.project(stepCostsProjection);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [BudgetsHttpController, PricesHttpController, UsageHttpController],
    providers: [
      { provide: BUDGET_DEFINITIONS, useValue: definitions.gateway },
      { provide: RUN_DEFAULTS, useValue: defaults },
      ...budgetHandlers,
    ],
  });
  return { runtime, module };
}
