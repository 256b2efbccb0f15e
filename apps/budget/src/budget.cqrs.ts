import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { Dimension } from '@warden/contracts';
import {
  BudgetDefinitionCommand,
  BudgetDefinitionState,
  dimensionName,
  RunLimits,
  runLimits,
} from '@warden/budget-domain';
import { getRunUsage } from '@warden/budget-read-models';
import { notFound } from '@warden/kernel';
import { ServiceRuntime } from '@warden/platform';
import { BUDGET_DEFINITIONS, BudgetDefinitionGateway } from './budget-definitions';

export const DEFAULT_RUN_LIMITS = Symbol('DefaultRunLimits');

/** Bus messages: define a tenant's run limits, read them, read a run's usage. */
export class DefineRunBudget {
  constructor(readonly command: BudgetDefinitionCommand) {}
}
export class GetRunBudget {
  constructor(readonly tenantId: string) {}
}
export class GetRunUsage {
  constructor(
    readonly tenantId: string,
    readonly runId: string,
  ) {}
}

/** The limits every run of the tenant gets, per dimension, and where each comes from. */
function runBudgetView(tenantId: string, state: BudgetDefinitionState, defaults: RunLimits) {
  const effective = runLimits(state, defaults);
  const defined = state.runDefaults;
  const limit = (dimension: Dimension, value: number) => ({
    dimension: dimensionName(dimension),
    limit: value,
    source: defined?.limits.some((l) => l.dimension === dimension) ? 'tenant' : 'default',
  });
  return {
    tenantId,
    limits: [limit(Dimension.TOKENS, effective.tokens), limit(Dimension.TOOL_CALLS, effective.toolCalls)],
    definedBy: defined?.definedBy ?? null,
    definedAt: defined ? new Date(defined.definedAtMs).toISOString() : null,
  };
}

@CommandHandler(DefineRunBudget)
export class DefineRunBudgetHandler implements ICommandHandler<DefineRunBudget> {
  constructor(
    @Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway,
    @Inject(DEFAULT_RUN_LIMITS) private readonly defaults: RunLimits,
  ) {}

  async execute({ command }: DefineRunBudget) {
    const { state } = await this.definitions.handle(command.tenantId, command, {
      now: command.now,
      eventId: () => randomUUID(),
    });
    return runBudgetView(command.tenantId, state, this.defaults);
  }
}

@QueryHandler(GetRunBudget)
export class GetRunBudgetHandler implements IQueryHandler<GetRunBudget> {
  constructor(
    @Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway,
    @Inject(DEFAULT_RUN_LIMITS) private readonly defaults: RunLimits,
  ) {}

  async execute({ tenantId }: GetRunBudget) {
    return runBudgetView(tenantId, this.definitions.state(tenantId), this.defaults);
  }
}

@QueryHandler(GetRunUsage)
export class GetRunUsageHandler implements IQueryHandler<GetRunUsage> {
  constructor(private readonly runtime: ServiceRuntime) {}

  async execute({ tenantId, runId }: GetRunUsage) {
    const usage = await getRunUsage(this.runtime.db, tenantId, runId);
    if (!usage) throw notFound('not_found', `no budget usage for run ${runId}`);
    return usage;
  }
}

export const budgetHandlers = [DefineRunBudgetHandler, GetRunBudgetHandler, GetRunUsageHandler];
