import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { BudgetDefined, BudgetScope, PriceTableVersionPublished, Threshold } from '@warden/contracts';
import {
  BudgetDefinitionCommand,
  BudgetDefinitionState,
  DIMENSIONS,
  dimensionName,
  normalWindow,
  ResolvedLimit,
  RunDefaults,
  scopeName,
  thresholdOf,
  WINDOWS,
  windowName,
} from '@warden/budget-domain';
import { costRollup, CostGroup, getRunUsage, getTenantUsage, MeterUsage } from '@warden/budget-read-models';
import { invalid, notFound } from '@warden/kernel';
import { rowView, ServiceRuntime } from '@warden/platform';
import { BUDGET_DEFINITIONS, BudgetDefinitionGateway } from './budget-definitions';

export const RUN_DEFAULTS = Symbol('RunDefaults');

/** Bus messages: change a tenant's budgets and prices, read them, read usage and costs. */
export class ChangeBudgets {
  constructor(readonly command: BudgetDefinitionCommand) {}
}
export class ListBudgets {
  constructor(readonly tenantId: string) {}
}
export class GetBudget {
  constructor(
    readonly tenantId: string,
    readonly budgetId: string,
  ) {}
}
export class GetPriceTable {
  constructor(
    readonly tenantId: string,
    readonly version: number,
  ) {}
}
export class GetBudgetUsage {
  constructor(
    readonly tenantId: string,
    readonly budgetId: string,
    readonly runId: string,
    readonly now: number,
  ) {}
}
export class GetTenantUsage {
  constructor(
    readonly tenantId: string,
    readonly now: number,
  ) {}
}
export class GetRunUsage {
  constructor(
    readonly tenantId: string,
    readonly runId: string,
    readonly now: number,
  ) {}
}
export class GetCosts {
  constructor(
    readonly tenantId: string,
    readonly by: CostGroup,
    readonly filter: { readonly key?: string; readonly from?: string; readonly to?: string; readonly limit: number },
  ) {}
}

const THRESHOLD_NAMES: Readonly<Record<Threshold, string>> = {
  [Threshold.UNSPECIFIED]: 'continue',
  [Threshold.CONTINUE]: 'continue',
  [Threshold.DEGRADE]: 'degrade',
  [Threshold.ASK]: 'ask',
  [Threshold.STOP]: 'stop',
};

export function budgetView(b: BudgetDefined) {
  return {
    budgetId: b.budgetId,
    name: b.name,
    scope: scopeName(b.scope) ?? 'unspecified',
    subject: b.subject,
    limits: b.limits.map((l) => ({
      dimension: dimensionName(l.dimension) ?? 'unspecified',
      window: windowName(l.window),
      limit: l.limit,
      ...(l.currency ? { currency: l.currency } : {}),
      degradeAtPercent: l.degradeAtPercent,
      askAtPercent: l.askAtPercent,
    })),
    definedBy: b.definedBy,
    definedAt: new Date(b.definedAtMs).toISOString(),
  };
}

function priceTableView(p: PriceTableVersionPublished) {
  return {
    version: p.version,
    currency: p.currency,
    prices: p.prices.map((m) => ({
      model: m.model,
      inputMicrosPer1k: m.inputMicrosPer1k,
      outputMicrosPer1k: m.outputMicrosPer1k,
    })),
    publishedBy: p.publishedBy,
    publishedAt: new Date(p.publishedAtMs).toISOString(),
  };
}

/** The limit a meter counts against now: its budget's, or the service default for runs. */
function limitOf(
  state: BudgetDefinitionState,
  defaults: RunDefaults,
  m: MeterUsage,
): Pick<ResolvedLimit, 'limit' | 'degradeAtPercent' | 'askAtPercent'> | undefined {
  if (m.budgetId === 'default') {
    const limit = m.dimension === 'tokens' ? defaults.tokens : m.dimension === 'tool_calls' ? defaults.toolCalls : 0;
    return { limit, degradeAtPercent: 0, askAtPercent: 0 };
  }
  const dimension = DIMENSIONS[m.dimension as keyof typeof DIMENSIONS];
  const window = WINDOWS[m.window as keyof typeof WINDOWS];
  return state.budgets
    .get(m.budgetId)
    ?.limits.find((l) => l.dimension === dimension && normalWindow(l.window) === window);
}

/** A meter's usage with its limit: percentage and the threshold it is at. */
function withLimit(state: BudgetDefinitionState, defaults: RunDefaults, m: MeterUsage) {
  const l = limitOf(state, defaults, m);
  if (!l) return { ...m, limit: null, percent: null, threshold: null };
  const usage = m.held + m.used;
  return {
    ...m,
    limit: l.limit,
    percent: l.limit > 0 ? Math.floor((usage * 100) / l.limit) : null,
    threshold: THRESHOLD_NAMES[thresholdOf(usage, l)],
  };
}

@CommandHandler(ChangeBudgets)
export class ChangeBudgetsHandler implements ICommandHandler<ChangeBudgets> {
  constructor(@Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway) {}

  async execute({ command }: ChangeBudgets) {
    const { state } = await this.definitions.handle(command.tenantId, command, {
      now: command.now,
      eventId: () => randomUUID(),
    });
    switch (command.type) {
      case 'DefineBudget':
        return budgetView(state.budgets.get(command.budgetId)!);
      case 'PublishPriceTable':
        return priceTableView(state.prices.at(-1)!);
      default:
        return undefined;
    }
  }
}

@QueryHandler(ListBudgets)
export class ListBudgetsHandler implements IQueryHandler<ListBudgets> {
  constructor(@Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway) {}

  async execute({ tenantId }: ListBudgets) {
    const budgets = [...this.definitions.state(tenantId).budgets.values()].sort((a, b) =>
      a.budgetId.localeCompare(b.budgetId),
    );
    return { tenantId, budgets: budgets.map(budgetView) };
  }
}

@QueryHandler(GetBudget)
export class GetBudgetHandler implements IQueryHandler<GetBudget> {
  constructor(@Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway) {}

  async execute({ tenantId, budgetId }: GetBudget) {
    const budget = this.definitions.state(tenantId).budgets.get(budgetId);
    if (!budget) throw notFound('not_found', `no budget ${budgetId}`);
    return budgetView(budget);
  }
}

@QueryHandler(GetPriceTable)
export class GetPriceTableHandler implements IQueryHandler<GetPriceTable> {
  constructor(@Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway) {}

  async execute({ tenantId, version }: GetPriceTable) {
    const prices = this.definitions.state(tenantId).prices;
    const table = version > 0 ? prices[version - 1] : prices.at(-1);
    if (!table) throw notFound('not_found', version > 0 ? `no price table version ${version}` : 'no price table yet');
    return priceTableView(table);
  }
}

@QueryHandler(GetBudgetUsage)
export class GetBudgetUsageHandler implements IQueryHandler<GetBudgetUsage> {
  constructor(
    @Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway,
    @Inject(RUN_DEFAULTS) private readonly defaults: RunDefaults,
    private readonly runtime: ServiceRuntime,
  ) {}

  async execute({ tenantId, budgetId, runId, now }: GetBudgetUsage) {
    const state = this.definitions.state(tenantId);
    const budget = state.budgets.get(budgetId);
    if (!budget && budgetId !== 'default') throw notFound('not_found', `no budget ${budgetId}`);
    if (!runId && (!budget || budget.scope === BudgetScope.RUN)) {
      throw invalid('run_required', `budget ${budgetId} counts per run: name the run (?runId=)`, 'runId');
    }
    const meters = runId
      ? ((await getRunUsage(this.runtime.db, tenantId, runId, now))?.meters ?? [])
      : await getTenantUsage(this.runtime.db, tenantId, now);
    return {
      budgetId,
      runId: runId || null,
      meters: meters.filter((m) => m.budgetId === budgetId).map((m) => withLimit(state, this.defaults, m)),
    };
  }
}

@QueryHandler(GetTenantUsage)
export class GetTenantUsageHandler implements IQueryHandler<GetTenantUsage> {
  constructor(
    @Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway,
    @Inject(RUN_DEFAULTS) private readonly defaults: RunDefaults,
    private readonly runtime: ServiceRuntime,
  ) {}

  async execute({ tenantId, now }: GetTenantUsage) {
    const state = this.definitions.state(tenantId);
    const meters = await getTenantUsage(this.runtime.db, tenantId, now);
    return { tenantId, meters: meters.map((m) => withLimit(state, this.defaults, m)) };
  }
}

@QueryHandler(GetRunUsage)
export class GetRunUsageHandler implements IQueryHandler<GetRunUsage> {
  constructor(
    @Inject(BUDGET_DEFINITIONS) private readonly definitions: BudgetDefinitionGateway,
    @Inject(RUN_DEFAULTS) private readonly defaults: RunDefaults,
    private readonly runtime: ServiceRuntime,
  ) {}

  async execute({ tenantId, runId, now }: GetRunUsage) {
    const usage = await getRunUsage(this.runtime.db, tenantId, runId, now);
    if (!usage) throw notFound('not_found', `no budget usage for run ${runId}`);
    const state = this.definitions.state(tenantId);
    return { ...rowView(usage), meters: usage.meters.map((m) => withLimit(state, this.defaults, m)) };
  }
}

@QueryHandler(GetCosts)
export class GetCostsHandler implements IQueryHandler<GetCosts> {
  constructor(private readonly runtime: ServiceRuntime) {}

  async execute({ tenantId, by, filter }: GetCosts) {
    return { tenantId, by, costs: await costRollup(this.runtime.db, tenantId, by, filter) };
  }
}

export const budgetHandlers = [
  ChangeBudgetsHandler,
  ListBudgetsHandler,
  GetBudgetHandler,
  GetPriceTableHandler,
  GetBudgetUsageHandler,
  GetTenantUsageHandler,
  GetRunUsageHandler,
  GetCostsHandler,
];
