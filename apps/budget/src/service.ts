import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { runUsageProjection } from '@warden/budget-read-models';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { BUDGET_DEFINITIONS, wireBudgetDefinitions } from './budget-definitions';
import { budgetHandlers, DEFAULT_RUN_LIMITS } from './budget.cqrs';
import { BudgetConfig, defaultRunLimits } from './config';
import { BudgetsHttpController } from './http/budgets.http.controller';
import { RunsHttpController } from './http/runs.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { wireReservations } from './reservations.processor';

/** The budget service: its runtime (definitions, reservations processor, usage projection) and its Nest module. */
export function budgetService(config: BudgetConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('budget', config, { schema: 'budget', migrations: [Init1763700000000] });
  const defaults = defaultRunLimits(config);
  const definitions = wireBudgetDefinitions(runtime, config.instanceId);
  wireReservations(runtime, config.instanceId, definitions.table, defaults);
  runtime.project(runUsageProjection);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [BudgetsHttpController, RunsHttpController],
    providers: [
      { provide: BUDGET_DEFINITIONS, useValue: definitions.gateway },
      { provide: DEFAULT_RUN_LIMITS, useValue: defaults },
      ...budgetHandlers,
    ],
  });
  return { runtime, module };
}
