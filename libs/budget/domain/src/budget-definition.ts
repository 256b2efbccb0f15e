import { BudgetDefined, BudgetDefinedSchema, BudgetScope, create, Dimension, LimitSchema } from '@warden/contracts';
import { assertNever, Decider, forbidden, invalid } from '@warden/kernel';
import { RunLimits } from './run-budget';

/** The dimensions a budget may limit today, by their API name. */
export const DIMENSIONS = { tokens: Dimension.TOKENS, tool_calls: Dimension.TOOL_CALLS } as const;
export type DimensionName = keyof typeof DIMENSIONS;

export function dimensionName(dimension: Dimension): DimensionName | undefined {
  return (Object.keys(DIMENSIONS) as DimensionName[]).find((name) => DIMENSIONS[name] === dimension);
}

/** Roles allowed to define a tenant's budgets. */
export const BUDGET_ROLES = ['admin', 'owner'] as const;

export interface LimitInput {
  readonly dimension: string;
  readonly limit: number;
}

export type BudgetDefinitionCommand = {
  readonly type: 'DefineRunBudget';
  readonly tenantId: string;
  readonly budgetId: string;
  readonly limits: readonly LimitInput[];
  readonly by: string;
  readonly roles: readonly string[];
  readonly now: number;
};

/** A tenant's budget definitions (stream id = tenant id), on budget.events. */
export interface BudgetDefinitionState {
  /** The limits of every run of the tenant; undefined until the tenant defines them. */
  readonly runDefaults: BudgetDefined | undefined;
}

function limitsOf(inputs: readonly LimitInput[]) {
  const seen = new Set<Dimension>();
  return inputs.map((input, i) => {
    const field = `limits[${i}]`;
    if (!Object.hasOwn(DIMENSIONS, input.dimension)) {
      throw invalid(
        'unknown_dimension',
        `${field}.dimension must be one of ${Object.keys(DIMENSIONS).join(', ')}, got "${input.dimension}"`,
        `${field}.dimension`,
      );
    }
    const dimension = DIMENSIONS[input.dimension as DimensionName];
    if (seen.has(dimension)) {
      throw invalid(
        'duplicate_dimension',
        `${field}.dimension ${input.dimension} is listed twice`,
        `${field}.dimension`,
      );
    }
    seen.add(dimension);
    if (!Number.isFinite(input.limit))
      throw invalid('invalid_limit', `${field}.limit must be a number`, `${field}.limit`);
    if (input.limit < 0)
      throw invalid('negative_limit', `${field}.limit must be >= 0 (0 = unlimited)`, `${field}.limit`);
    return create(LimitSchema, { dimension, limit: input.limit });
  });
}

const sameLimits = (a: BudgetDefined['limits'], b: BudgetDefined['limits']) =>
  a.length === b.length && a.every((l) => b.some((m) => m.dimension === l.dimension && m.limit === l.limit));

/**
 * A tenant's budget definitions. Today: the run-scope defaults (one limit per dimension; a
 * dimension not listed falls back to the service's configured default). Defining the same
 * limits again records nothing.
 */
export const budgetDefinition: Decider<BudgetDefinitionCommand, BudgetDefinitionState, BudgetDefined> = {
  initialState: { runDefaults: undefined },

  decide(cmd, state) {
    switch (cmd.type) {
      case 'DefineRunBudget': {
        if (!cmd.roles.some((r) => (BUDGET_ROLES as readonly string[]).includes(r))) {
          throw forbidden('role_required', 'defining budgets needs the role admin or owner');
        }
        if (cmd.tenantId === '') throw invalid('tenant_required', 'a tenant id is required', 'tenantId');
        const limits = limitsOf(cmd.limits);
        if (state.runDefaults && sameLimits(state.runDefaults.limits, limits)) return [];
        return [
          create(BudgetDefinedSchema, {
            budgetId: cmd.budgetId,
            tenantId: cmd.tenantId,
            scope: BudgetScope.RUN,
            subject: '',
            limits,
            definedBy: cmd.by,
            definedAtMs: cmd.now,
          }),
        ];
      }
      default:
        return assertNever(cmd.type, 'command');
    }
  },

  evolve(state, event) {
    if (event.scope !== BudgetScope.RUN || event.subject !== '') return state;
    return { runDefaults: event };
  },
};

/** The limits a run of the tenant gets: the tenant's run defaults, else the configured defaults. */
export function runLimits(state: BudgetDefinitionState | undefined, defaults: RunLimits): RunLimits {
  const limit = (dimension: Dimension, fallback: number) =>
    state?.runDefaults?.limits.find((l) => l.dimension === dimension)?.limit ?? fallback;
  return {
    tokens: limit(Dimension.TOKENS, defaults.tokens),
    toolCalls: limit(Dimension.TOOL_CALLS, defaults.toolCalls),
  };
}
