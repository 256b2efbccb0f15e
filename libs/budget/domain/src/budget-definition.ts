import {
  BudgetDefined,
  BudgetDefinedSchema,
  BudgetRemoved,
  BudgetRemovedSchema,
  BudgetScope,
  create,
  Dimension,
  Limit,
  LimitSchema,
  ModelPriceSchema,
  PriceTableVersionPublished,
  PriceTableVersionPublishedSchema,
  Window,
} from '@warden/contracts';
import { assertNever, Decider, invalid, notFound, requireRole } from '@warden/kernel';
import { isCurrency } from './currencies';
import { isRolling, normalWindow, period, WINDOWS } from './windows';

/** The dimensions a budget may limit, by their API name. */
export const DIMENSIONS = {
  tokens: Dimension.TOKENS,
  tool_calls: Dimension.TOOL_CALLS,
  retries: Dimension.RETRIES,
  time: Dimension.TIME,
  spend: Dimension.SPEND,
  scope: Dimension.SCOPE,
  risk: Dimension.RISK,
} as const;
export type DimensionName = keyof typeof DIMENSIONS;

/** The scopes a budget may apply to, by their API name. */
export const SCOPES = {
  tool: BudgetScope.TOOL,
  run: BudgetScope.RUN,
  agent: BudgetScope.AGENT,
  tenant: BudgetScope.TENANT,
} as const;
export type ScopeName = keyof typeof SCOPES;

const nameOf = <T extends Record<string, number>>(table: T, value: number) =>
  (Object.keys(table) as (keyof T & string)[]).find((name) => table[name] === value);
export const dimensionName = (d: Dimension): DimensionName | undefined => nameOf(DIMENSIONS, d);
export const scopeName = (s: BudgetScope): ScopeName | undefined => nameOf(SCOPES, s);

export interface LimitInput {
  readonly dimension: string;
  readonly window: string;
  readonly limit: number;
  readonly currency: string;
  readonly degradeAtPercent: number;
  readonly askAtPercent: number;
}

export interface PriceInput {
  readonly model: string;
  readonly inputMicrosPer1k: number;
  readonly outputMicrosPer1k: number;
}

interface Who {
  readonly tenantId: string;
  readonly by: string;
  readonly roles: readonly string[];
  readonly now: number;
}

export type BudgetDefinitionCommand =
  | (Who & {
      readonly type: 'DefineBudget';
      readonly budgetId: string;
      readonly name: string;
      readonly scope: string;
      /** The tool, agent id (agent scope, or the runs of one agent) or '' for each one / every run. */
      readonly subject: string;
      readonly limits: readonly LimitInput[];
    })
  | (Who & { readonly type: 'RemoveBudget'; readonly budgetId: string })
  | (Who & { readonly type: 'PublishPriceTable'; readonly currency: string; readonly prices: readonly PriceInput[] });

export type BudgetDefinitionEvent = BudgetDefined | BudgetRemoved | PriceTableVersionPublished;

/** A tenant's budgets and model price tables (stream id = tenant id), on budget.events. */
export interface BudgetDefinitionState {
  readonly budgets: ReadonlyMap<string, BudgetDefined>;
  /** Every version of the price table, oldest first (version n at index n - 1). */
  readonly prices: readonly PriceTableVersionPublished[];
}

const BUDGET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Which windows each scope may count over, and which dimensions only one scope may limit. */
function checkScopeRules(scope: BudgetScope, dimension: Dimension, window: Window, field: string): void {
  if (dimension === Dimension.TIME && scope !== BudgetScope.RUN) {
    throw invalid(
      'dimension_not_in_scope',
      `${field}.dimension time is wall clock per run: use scope run`,
      `${field}.dimension`,
    );
  }
  if (dimension === Dimension.RETRIES && scope !== BudgetScope.TOOL) {
    throw invalid(
      'dimension_not_in_scope',
      `${field}.dimension retries is budgeted per tool, not per ${scopeName(scope)}: use scope tool`,
      `${field}.dimension`,
    );
  }
  if (scope === BudgetScope.RUN && window !== Window.RUN) {
    throw invalid('window_not_in_scope', `${field}.window of a run budget must be run`, `${field}.window`);
  }
  if ((scope === BudgetScope.AGENT || scope === BudgetScope.TENANT) && window === Window.RUN) {
    throw invalid(
      'window_not_in_scope',
      `${field}.window run does not apply to scope ${scopeName(scope)}: use scope run, or an hour, day or month window`,
      `${field}.window`,
    );
  }
  if (dimension === Dimension.SCOPE && isRolling(window)) {
    throw invalid(
      'window_not_in_scope',
      `${field}.window: scope budgets count distinct resources per run or per calendar hour, day or month`,
      `${field}.window`,
    );
  }
}

function percent(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 99) {
    throw invalid('invalid_threshold', `${field} must be a whole percentage from 1 to 99, or 0 for none`, field);
  }
  return value;
}

function limitOf(input: LimitInput, scope: BudgetScope, field: string): Limit {
  if (!Object.hasOwn(DIMENSIONS, input.dimension)) {
    throw invalid(
      'unknown_dimension',
      `${field}.dimension must be one of ${Object.keys(DIMENSIONS).join(', ')}, got "${input.dimension}"`,
      `${field}.dimension`,
    );
  }
  const dimension = DIMENSIONS[input.dimension as DimensionName];
  const windowInput = input.window === '' && scope === BudgetScope.RUN ? 'run' : input.window;
  if (windowInput === '') throw invalid('window_required', `${field}.window is required`, `${field}.window`);
  if (!Object.hasOwn(WINDOWS, windowInput)) {
    throw invalid(
      'unknown_window',
      `${field}.window must be one of ${Object.keys(WINDOWS).join(', ')}, got "${windowInput}"`,
      `${field}.window`,
    );
  }
  const window = WINDOWS[windowInput as keyof typeof WINDOWS];
  checkScopeRules(scope, dimension, window, field);
  if (!Number.isFinite(input.limit))
    throw invalid('invalid_limit', `${field}.limit must be a number`, `${field}.limit`);
  if (input.limit < 0) throw invalid('negative_limit', `${field}.limit must be >= 0`, `${field}.limit`);
  if (dimension === Dimension.SPEND) {
    if (input.currency === '') {
      throw invalid('currency_required', `${field}.currency is required for a spend limit`, `${field}.currency`);
    }
    if (!isCurrency(input.currency)) {
      throw invalid(
        'unknown_currency',
        `${field}.currency "${input.currency}" is not an ISO 4217 currency code`,
        `${field}.currency`,
      );
    }
  } else if (input.currency !== '') {
    throw invalid('currency_not_allowed', `${field}.currency applies to spend limits only`, `${field}.currency`);
  }
  const degradeAtPercent = percent(input.degradeAtPercent, `${field}.degradeAtPercent`);
  const askAtPercent = percent(input.askAtPercent, `${field}.askAtPercent`);
  if (degradeAtPercent > 0 && askAtPercent > 0 && degradeAtPercent > askAtPercent) {
    throw invalid(
      'invalid_threshold',
      `${field}.degradeAtPercent (${degradeAtPercent}) must not be above askAtPercent (${askAtPercent}): degrade comes first`,
      `${field}.degradeAtPercent`,
    );
  }
  return create(LimitSchema, {
    dimension,
    limit: input.limit,
    window,
    currency: input.currency,
    degradeAtPercent,
    askAtPercent,
  });
}

/** Two limits overlap when they limit the same dimension over the same period (a rolling and a calendar day do). */
const overlaps = (a: Limit, b: Limit) => a.dimension === b.dimension && period(a.window) === period(b.window);

/** The first limit of `budget` that overlaps a limit of another budget with the same scope and subject. */
export function overlapOf(
  budgets: ReadonlyMap<string, BudgetDefined>,
  budget: Pick<BudgetDefined, 'budgetId' | 'scope' | 'subject' | 'limits'>,
): { index: number; other: BudgetDefined } | undefined {
  for (const other of budgets.values()) {
    if (other.budgetId === budget.budgetId || other.scope !== budget.scope || other.subject !== budget.subject)
      continue;
    const index = budget.limits.findIndex((l) => other.limits.some((m) => overlaps(l, m)));
    if (index >= 0) return { index, other };
  }
  return undefined;
}

function authorise(cmd: Who): void {
  requireRole(cmd, 'budget.write');
  if (cmd.tenantId === '') throw invalid('tenant_required', 'a tenant id is required', 'tenantId');
}

function defineBudget(
  cmd: Extract<BudgetDefinitionCommand, { type: 'DefineBudget' }>,
  state: BudgetDefinitionState,
): BudgetDefined[] {
  if (!BUDGET_ID.test(cmd.budgetId)) {
    throw invalid('invalid_budget_id', 'the budget id must be 1-64 letters, digits, ".", "_" or "-"', 'budgetId');
  }
  if (cmd.name.length > 200) throw invalid('invalid_field', 'name is longer than 200', 'name');
  if (!Object.hasOwn(SCOPES, cmd.scope)) {
    throw invalid(
      'unknown_scope',
      `scope must be one of ${Object.keys(SCOPES).join(', ')}, got "${cmd.scope}"`,
      'scope',
    );
  }
  const scope = SCOPES[cmd.scope as ScopeName];
  if (scope === BudgetScope.TENANT && cmd.subject !== '') {
    throw invalid('subject_not_allowed', 'a tenant budget has no subject', 'subject');
  }
  if (cmd.limits.length === 0) throw invalid('limits_required', 'limits must list at least one limit', 'limits');
  const limits = cmd.limits.map((input, i) => limitOf(input, scope, `limits[${i}]`));
  limits.forEach((limit, i) => {
    const j = limits.findIndex((other) => overlaps(limit, other));
    if (j < i) {
      throw invalid(
        'overlapping_window',
        `limits[${i}].window overlaps limits[${j}]: one ${dimensionName(limit.dimension)} limit per ${period(limit.window)}`,
        `limits[${i}].window`,
      );
    }
  });
  const candidate = { budgetId: cmd.budgetId, scope, subject: cmd.subject, limits };
  const overlap = overlapOf(state.budgets, candidate);
  if (overlap) {
    const limit = limits[overlap.index];
    throw invalid(
      'overlapping_window',
      `limits[${overlap.index}].window overlaps budget ${overlap.other.budgetId}, which already limits ` +
        `${dimensionName(limit.dimension)} per ${period(limit.window)} for the same scope and subject`,
      `limits[${overlap.index}].window`,
    );
  }
  const existing = state.budgets.get(cmd.budgetId);
  if (
    existing &&
    existing.name === cmd.name &&
    existing.scope === scope &&
    existing.subject === cmd.subject &&
    sameLimits(existing.limits, limits)
  ) {
    return [];
  }
  return [
    create(BudgetDefinedSchema, {
      budgetId: cmd.budgetId,
      tenantId: cmd.tenantId,
      scope,
      subject: cmd.subject,
      limits,
      definedBy: cmd.by,
      definedAtMs: cmd.now,
      name: cmd.name,
    }),
  ];
}

const limitKey = (l: Limit) =>
  [l.dimension, normalWindow(l.window), l.limit, l.currency, l.degradeAtPercent, l.askAtPercent].join('|');
const sameLimits = (a: readonly Limit[], b: readonly Limit[]) =>
  a.length === b.length && a.map(limitKey).sort().join(',') === b.map(limitKey).sort().join(',');

function publishPrices(
  cmd: Extract<BudgetDefinitionCommand, { type: 'PublishPriceTable' }>,
  state: BudgetDefinitionState,
): PriceTableVersionPublished[] {
  if (!isCurrency(cmd.currency)) {
    throw invalid('unknown_currency', `currency "${cmd.currency}" is not an ISO 4217 currency code`, 'currency');
  }
  if (cmd.prices.length === 0) throw invalid('prices_required', 'prices must list at least one model', 'prices');
  const seen = new Set<string>();
  const prices = cmd.prices.map((p, i) => {
    const field = `prices[${i}]`;
    if (p.model === '') throw invalid('missing_field', `${field}.model is required`, `${field}.model`);
    if (seen.has(p.model))
      throw invalid('duplicate_model', `${field}.model ${p.model} is listed twice`, `${field}.model`);
    seen.add(p.model);
    for (const name of ['inputMicrosPer1k', 'outputMicrosPer1k'] as const) {
      if (!Number.isFinite(p[name]) || p[name] < 0) {
        throw invalid('negative_price', `${field}.${name} must be a number >= 0`, `${field}.${name}`);
      }
    }
    return create(ModelPriceSchema, {
      model: p.model,
      inputMicrosPer1k: p.inputMicrosPer1k,
      outputMicrosPer1k: p.outputMicrosPer1k,
    });
  });
  const latest = state.prices.at(-1);
  const key = (m: { model: string; inputMicrosPer1k: number; outputMicrosPer1k: number }) =>
    `${m.model}|${m.inputMicrosPer1k}|${m.outputMicrosPer1k}`;
  if (
    latest &&
    latest.currency === cmd.currency &&
    latest.prices.map(key).sort().join(',') === prices.map(key).sort().join(',')
  ) {
    return [];
  }
  return [
    create(PriceTableVersionPublishedSchema, {
      tenantId: cmd.tenantId,
      version: (latest?.version ?? 0) + 1,
      currency: cmd.currency,
      prices,
      publishedBy: cmd.by,
      publishedAtMs: cmd.now,
    }),
  ];
}

/**
 * A tenant's budget definitions and model price tables. A definition replaces the budget with its
 * id; two budgets of one scope and subject may not limit a dimension over the same period. `evolve`
 * checks that rule again, so of two definitions racing to overlap, the later is rejected (the HTTP
 * caller gets 409). Defining the same thing again records nothing.
 */
export const budgetDefinition: Decider<BudgetDefinitionCommand, BudgetDefinitionState, BudgetDefinitionEvent> = {
  initialState: { budgets: new Map(), prices: [] },

  decide(cmd, state) {
    authorise(cmd);
    switch (cmd.type) {
      case 'DefineBudget':
        return defineBudget(cmd, state);
      case 'RemoveBudget': {
        if (!state.budgets.has(cmd.budgetId)) throw notFound('not_found', `no budget ${cmd.budgetId}`);
        return [
          create(BudgetRemovedSchema, {
            budgetId: cmd.budgetId,
            tenantId: cmd.tenantId,
            removedBy: cmd.by,
            removedAtMs: cmd.now,
          }),
        ];
      }
      case 'PublishPriceTable':
        return publishPrices(cmd, state);
      default:
        return assertNever(cmd, 'command');
    }
  },

  evolve(state, event) {
    switch (event.$typeName) {
      case 'warden.budget.v1.BudgetDefined': {
        if (overlapOf(state.budgets, event)) return state;
        return { ...state, budgets: new Map(state.budgets).set(event.budgetId, event) };
      }
      case 'warden.budget.v1.BudgetRemoved': {
        if (!state.budgets.has(event.budgetId)) return state;
        const budgets = new Map(state.budgets);
        budgets.delete(event.budgetId);
        return { ...state, budgets };
      }
      case 'warden.budget.v1.PriceTableVersionPublished':
        if (event.version !== state.prices.length + 1) return state;
        return { ...state, prices: [...state.prices, event] };
      default:
        return assertNever(event, 'event');
    }
  },
};
