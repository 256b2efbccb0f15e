import {
  ActionKind,
  Ask,
  AskSchema,
  BudgetDefined,
  BudgetScope,
  create,
  Dimension,
  GateRequested,
  Money,
  Window,
} from '@warden/contracts';
import { BudgetDefinitionState } from './budget-definition';
import { ResolvedLimit } from './meters';
import { normalWindow, period } from './windows';

/** The service's run limits for tenants that define none for a dimension; 0 = none. */
export interface RunDefaults {
  readonly tokens: number;
  readonly toolCalls: number;
}

/** The limits that apply to a request: the run stage's own, and the cross-run ones the tenant's ledger holds. */
export interface Applicable {
  /** Run scope, and tool scope per run: kept by the run stage (stream = run). */
  readonly local: readonly ResolvedLimit[];
  /** Tool scope over time, agent and tenant scope: kept by the ledger (stream = tenant). */
  readonly crossRun: readonly ResolvedLimit[];
}

/** The scope key a budget counts the request on, or undefined when it does not apply to the request. */
function meterOf(budget: BudgetDefined, r: GateRequested): string | undefined {
  switch (budget.scope) {
    case BudgetScope.RUN:
      return budget.subject === '' || budget.subject === r.agentId ? 'run' : undefined;
    case BudgetScope.TOOL:
      if (r.actionKind !== ActionKind.TOOL_CALL) return undefined;
      return budget.subject === '' || budget.subject === r.tool ? `tool:${r.tool}` : undefined;
    case BudgetScope.AGENT:
      return budget.subject === '' || budget.subject === r.agentId ? `agent:${r.agentId}` : undefined;
    case BudgetScope.TENANT:
      return 'tenant';
    default:
      return undefined;
  }
}

/**
 * The limits of the tenant's budgets that apply to a request. A budget for one subject (an agent, a
 * tool, the runs of one agent) overrides the budget for every subject ('') of the same scope on the
 * same dimension and period. The service's run defaults fill in tokens and tool calls when no run
 * budget limits them.
 */
export function applicableLimits(
  state: BudgetDefinitionState | undefined,
  request: GateRequested,
  defaults: RunDefaults,
): Applicable {
  const candidates: (ResolvedLimit & { readonly specific: boolean })[] = [];
  for (const budget of state?.budgets.values() ?? []) {
    const meter = meterOf(budget, request);
    if (meter === undefined) continue;
    for (const l of budget.limits) {
      candidates.push({
        budgetId: budget.budgetId,
        name: budget.name,
        scope: budget.scope,
        dimension: l.dimension,
        window: normalWindow(l.window),
        limit: l.limit,
        currency: l.currency,
        degradeAtPercent: l.degradeAtPercent,
        askAtPercent: l.askAtPercent,
        meter,
        specific: budget.subject !== '',
      });
    }
  }
  const group = (l: ResolvedLimit) => `${l.scope}|${l.dimension}|${period(l.window)}`;
  const specificGroups = new Set(candidates.filter((c) => c.specific).map(group));
  const chosen: ResolvedLimit[] = candidates
    .filter((c) => c.specific || !specificGroups.has(group(c)))
    .map(({ specific: _, ...limit }) => limit);
  const runDefault = (dimension: Dimension, limit: number) => {
    if (limit <= 0 || chosen.some((l) => l.scope === BudgetScope.RUN && l.dimension === dimension)) return;
    chosen.push({
      budgetId: 'default',
      name: 'service default',
      scope: BudgetScope.RUN,
      dimension,
      window: Window.RUN,
      limit,
      currency: '',
      degradeAtPercent: 0,
      askAtPercent: 0,
      meter: 'run',
    });
  };
  runDefault(Dimension.TOKENS, defaults.tokens);
  runDefault(Dimension.TOOL_CALLS, defaults.toolCalls);
  const local = (l: ResolvedLimit) =>
    l.scope === BudgetScope.RUN || (l.scope === BudgetScope.TOOL && l.window === Window.RUN);
  return { local: chosen.filter(local), crossRun: chosen.filter((l) => !local(l)) };
}

/** A model's price from the tenant's price table, and the table version it comes from. */
export interface PriceQuote {
  readonly version: number;
  readonly currency: string;
  readonly inputMicrosPer1k: number;
  readonly outputMicrosPer1k: number;
}

/** The model's price in the given table version (the latest when 0), if the table lists it. */
export function priceOf(state: BudgetDefinitionState | undefined, model: string, version = 0): PriceQuote | undefined {
  if (!state || model === '') return undefined;
  const table = version > 0 ? state.prices[version - 1] : state.prices.at(-1);
  const price = table?.prices.find((p) => p.model === model);
  if (!table || !price) return undefined;
  return {
    version: table.version,
    currency: table.currency,
    inputMicrosPer1k: price.inputMicrosPer1k,
    outputMicrosPer1k: price.outputMicrosPer1k,
  };
}

/**
 * The spend of some tokens at a price. Estimates do not say how many tokens are input and how many
 * output, so every token is priced at the dearer of the two: an estimate never comes out low.
 */
export const spendOf = (tokens: number, quote: PriceQuote) =>
  Math.ceil((tokens * Math.max(quote.inputMicrosPer1k, quote.outputMicrosPer1k)) / 1000);

/** The tool or resource a request touches (the scope dimension), or '' for none. */
export function resourceOf(r: GateRequested): string {
  switch (r.actionKind) {
    case ActionKind.TOOL_CALL:
      return `tool:${r.tool}`;
    case ActionKind.MEMORY_READ:
    case ActionKind.MEMORY_WRITE:
      return r.memoryStore ? `memory:${r.memoryStore}` : '';
    case ActionKind.DELEGATION:
      return r.delegateToAgentId ? `agent:${r.delegateToAgentId}` : '';
    default:
      return '';
  }
}

/**
 * What a request asks of each dimension: its estimated tokens; one tool call for a tool call; one
 * retry for a tool call after its first attempt; spend from its estimated cost, else its tokens
 * at the model's price; the risk points of its action; the resource it touches.
 */
export function askOf(r: GateRequested, quote: PriceQuote | undefined, riskPoints: number): Ask {
  const toolCall = r.actionKind === ActionKind.TOOL_CALL;
  const cost = r.estimatedCost;
  const priced = !(cost && cost.micros > 0) && quote !== undefined && r.estimatedTokens > 0;
  return create(AskSchema, {
    tokens: r.estimatedTokens,
    toolCalls: toolCall ? 1 : 0,
    retries: toolCall && r.attempt > 1 ? 1 : 0,
    spendMicros: cost && cost.micros > 0 ? cost.micros : priced ? spendOf(r.estimatedTokens, quote) : 0,
    currency: cost && cost.micros > 0 ? cost.currency : priced ? quote.currency : '',
    riskPoints,
    resource: resourceOf(r),
    priceTableVersion: priced ? quote.version : 0,
  });
}

/**
 * What a step actually used: the reported tokens; the reported cost, else the tokens at the price
 * the reservation was made with, else the reserved spend.
 */
export function actualOf(reserved: Ask, tokens: number, cost: Money | undefined, quote: PriceQuote | undefined): Ask {
  const reported = cost !== undefined && cost.micros > 0;
  const spendMicros = reported ? cost.micros : quote ? spendOf(tokens, quote) : reserved.spendMicros;
  const currency = reported ? cost.currency : quote ? quote.currency : reserved.currency;
  return create(AskSchema, { ...reserved, tokens, spendMicros, currency });
}
