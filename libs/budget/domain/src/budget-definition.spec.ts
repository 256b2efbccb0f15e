import {
  BudgetDefined,
  BudgetDefinedSchema,
  BudgetRemovedSchema,
  BudgetScope,
  create,
  Dimension,
  LimitSchema,
  PriceTableVersionPublished,
  Window,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { budgetDefinition, BudgetDefinitionCommand, BudgetDefinitionEvent, LimitInput } from './budget-definition';

const now = 1_700_000_000_000;
const limit = (over: Partial<LimitInput> = {}): LimitInput => ({
  dimension: 'tokens',
  window: 'calendar_day',
  limit: 5000,
  currency: '',
  degradeAtPercent: 0,
  askAtPercent: 0,
  ...over,
});
type Define = Extract<BudgetDefinitionCommand, { type: 'DefineBudget' }>;
const define = (over: Partial<Define> = {}): Define => ({
  type: 'DefineBudget',
  tenantId: 'acme',
  budgetId: 'b-1',
  name: 'agent daily',
  scope: 'agent',
  subject: 'bot',
  limits: [limit(), limit({ dimension: 'spend', window: 'calendar_month', limit: 50_000_000, currency: 'USD' })],
  by: 'olga',
  roles: ['owner'],
  now,
  ...over,
});
const defined = (over: Partial<Omit<BudgetDefined, '$typeName'>> = {}) =>
  create(BudgetDefinedSchema, {
    budgetId: 'b-1',
    tenantId: 'acme',
    scope: BudgetScope.AGENT,
    subject: 'bot',
    limits: [
      create(LimitSchema, { dimension: Dimension.TOKENS, limit: 5000, window: Window.CALENDAR_DAY }),
      create(LimitSchema, {
        dimension: Dimension.SPEND,
        limit: 50_000_000,
        window: Window.CALENDAR_MONTH,
        currency: 'USD',
      }),
    ],
    definedBy: 'olga',
    definedAtMs: now,
    name: 'agent daily',
    ...over,
  });
const rejects = (cmd: BudgetDefinitionCommand, code: string, field: string, history: BudgetDefinitionEvent[] = []) => {
  const error = given(budgetDefinition, history).when(cmd).thenThrows('invalid', code);
  expect(error.field).toBe(field);
  return error;
};

describe('budget definition decider', () => {
  describe('define', () => {
    it('given no budgets, when a budget is defined, then BudgetDefined records its limits', () => {
      given(budgetDefinition).when(define()).then([defined()]);
    });

    it('reads a missing window of a run budget as run, and records thresholds', () => {
      const [event] = given(budgetDefinition)
        .when(
          define({
            scope: 'run',
            subject: '',
            limits: [limit({ window: '', degradeAtPercent: 80, askAtPercent: 95 })],
          }),
        )
        .thenEvents();
      expect((event as BudgetDefined).limits[0]).toMatchObject({
        window: Window.RUN,
        degradeAtPercent: 80,
        askAtPercent: 95,
      });
    });

    it('given a budget, when it is defined again unchanged, then nothing is recorded; changed, it is replaced', () => {
      given(budgetDefinition, [defined()]).when(define()).then([]);
      const [changed] = given(budgetDefinition, [defined()])
        .when(define({ limits: [limit({ limit: 6000 })] }))
        .thenEvents();
      const state = given(budgetDefinition, [defined(), changed]).state;
      expect(state.budgets.get('b-1')?.limits.map((l) => l.limit)).toEqual([6000]);
    });

    it('needs the role admin or owner, and a tenant', () => {
      given(budgetDefinition)
        .when(define({ roles: ['sre'] }))
        .thenThrows('forbidden', 'role_required');
      rejects(define({ tenantId: '' }), 'tenant_required', 'tenantId');
    });

    it('rejects a negative limit, naming the field', () => {
      rejects(
        define({ limits: [limit(), limit({ dimension: 'risk', limit: -1 })] }),
        'negative_limit',
        'limits[1].limit',
      );
      rejects(define({ limits: [limit({ limit: Number.NaN })] }), 'invalid_limit', 'limits[0].limit');
    });

    it('rejects an unknown currency, a spend limit without one, and a currency on another dimension', () => {
      const spend = (currency: string) => limit({ dimension: 'spend', currency });
      const error = rejects(define({ limits: [spend('USX')] }), 'unknown_currency', 'limits[0].currency');
      expect(error.message).toBe('limits[0].currency "USX" is not an ISO 4217 currency code');
      rejects(define({ limits: [spend('usd')] }), 'unknown_currency', 'limits[0].currency');
      rejects(define({ limits: [spend('XAU')] }), 'unknown_currency', 'limits[0].currency');
      rejects(define({ limits: [spend('')] }), 'currency_required', 'limits[0].currency');
      rejects(define({ limits: [limit({ currency: 'EUR' })] }), 'currency_not_allowed', 'limits[0].currency');
      expect(
        given(budgetDefinition)
          .when(define({ limits: [spend('JPY')] }))
          .thenEvents(),
      ).toHaveLength(1);
    });

    it('rejects overlapping windows for one dimension in one definition (a rolling and a calendar day overlap)', () => {
      const error = rejects(
        define({ limits: [limit(), limit({ dimension: 'risk' }), limit({ window: 'rolling_day' })] }),
        'overlapping_window',
        'limits[2].window',
      );
      expect(error.message).toBe('limits[2].window overlaps limits[0]: one tokens limit per day');
      expect(
        given(budgetDefinition)
          .when(define({ limits: [limit({ window: 'rolling_hour', limit: 500 }), limit()] }))
          .thenEvents(),
      ).toHaveLength(1);
    });

    it('rejects a window overlapping another budget of the same scope and subject, naming that budget', () => {
      const error = rejects(
        define({ budgetId: 'b-2', limits: [limit({ dimension: 'risk' }), limit({ window: 'rolling_day' })] }),
        'overlapping_window',
        'limits[1].window',
        [defined()],
      );
      expect(error.message).toContain('overlaps budget b-1');
      for (const other of [{ subject: 'helper' }, { scope: 'tenant', subject: '' }]) {
        expect(
          given(budgetDefinition, [defined()])
            .when(define({ budgetId: 'b-2', ...other }))
            .thenEvents(),
        ).toHaveLength(1);
      }
    });

    it('rejects two definitions racing to overlap: evolve keeps the first', () => {
      const first = defined();
      const racing = defined({ budgetId: 'b-2' });
      const state = given(budgetDefinition, [first]).state;
      expect(budgetDefinition.evolve(state, racing)).toBe(state);
    });

    it('rejects unknown dimensions, scopes and windows, naming the field', () => {
      rejects(define({ limits: [limit({ dimension: 'toString' })] }), 'unknown_dimension', 'limits[0].dimension');
      rejects(define({ limits: [limit({ window: 'weekly' })] }), 'unknown_window', 'limits[0].window');
      rejects(define({ limits: [limit({ window: '' })] }), 'window_required', 'limits[0].window');
      rejects(define({ scope: 'team' }), 'unknown_scope', 'scope');
      rejects(define({ budgetId: 'a b' }), 'invalid_budget_id', 'budgetId');
      rejects(define({ limits: [] }), 'limits_required', 'limits');
      rejects(define({ scope: 'tenant', subject: 'bot' }), 'subject_not_allowed', 'subject');
    });

    it('keeps each dimension and window to the scopes it means something in', () => {
      rejects(define({ limits: [limit({ dimension: 'time' })] }), 'dimension_not_in_scope', 'limits[0].dimension');
      const retries = rejects(
        define({ scope: 'run', subject: '', limits: [limit({ dimension: 'retries', window: 'run' })] }),
        'dimension_not_in_scope',
        'limits[0].dimension',
      );
      expect(retries.message).toContain('retries is budgeted per tool, not per run');
      rejects(define({ scope: 'run', subject: '' }), 'window_not_in_scope', 'limits[0].window');
      rejects(define({ limits: [limit({ window: 'run' })] }), 'window_not_in_scope', 'limits[0].window');
      rejects(
        define({ limits: [limit({ dimension: 'scope', window: 'rolling_day' })] }),
        'window_not_in_scope',
        'limits[0].window',
      );
      const ok = [
        define({ scope: 'tool', subject: 'tickets', limits: [limit({ dimension: 'retries', window: 'run' })] }),
        define({ scope: 'run', subject: '', limits: [limit({ dimension: 'time', window: 'run', limit: 60_000 })] }),
        define({ limits: [limit({ dimension: 'scope', window: 'calendar_day' })] }),
      ];
      for (const cmd of ok) expect(given(budgetDefinition).when(cmd).thenEvents()).toHaveLength(1);
    });

    it('rejects thresholds outside 1-99 %, and degrade above ask', () => {
      rejects(
        define({ limits: [limit({ degradeAtPercent: 100 })] }),
        'invalid_threshold',
        'limits[0].degradeAtPercent',
      );
      rejects(define({ limits: [limit({ askAtPercent: 12.5 })] }), 'invalid_threshold', 'limits[0].askAtPercent');
      rejects(
        define({ limits: [limit({ degradeAtPercent: 90, askAtPercent: 80 })] }),
        'invalid_threshold',
        'limits[0].degradeAtPercent',
      );
    });
  });

  describe('remove', () => {
    it('given a budget, when it is removed, then BudgetRemoved; an unknown one is not found', () => {
      const removed = create(BudgetRemovedSchema, {
        budgetId: 'b-1',
        tenantId: 'acme',
        removedBy: 'olga',
        removedAtMs: now,
      });
      given(budgetDefinition, [defined()])
        .when({ type: 'RemoveBudget', tenantId: 'acme', budgetId: 'b-1', by: 'olga', roles: ['admin'], now })
        .then([removed]);
      expect(given(budgetDefinition, [defined(), removed]).state.budgets.size).toBe(0);
      given(budgetDefinition)
        .when({ type: 'RemoveBudget', tenantId: 'acme', budgetId: 'b-1', by: 'olga', roles: ['admin'], now })
        .thenThrows('not_found');
    });
  });

  describe('price tables', () => {
    const publish = (over: Partial<Extract<BudgetDefinitionCommand, { type: 'PublishPriceTable' }>> = {}) =>
      ({
        type: 'PublishPriceTable',
        tenantId: 'acme',
        currency: 'USD',
        prices: [{ model: 'gpt-small', inputMicrosPer1k: 150, outputMicrosPer1k: 600 }],
        by: 'olga',
        roles: ['owner'],
        now,
        ...over,
      }) as const;

    it('publishes versions 1, 2, ... and records nothing for an unchanged table', () => {
      const [v1] = given(budgetDefinition).when(publish()).thenEvents() as PriceTableVersionPublished[];
      expect(v1).toMatchObject({
        version: 1,
        currency: 'USD',
        prices: [{ model: 'gpt-small', outputMicrosPer1k: 600 }],
      });
      given(budgetDefinition, [v1]).when(publish()).then([]);
      const [v2] = given(budgetDefinition, [v1])
        .when(publish({ currency: 'EUR' }))
        .thenEvents() as PriceTableVersionPublished[];
      expect(v2.version).toBe(2);
      expect(given(budgetDefinition, [v1, v2]).state.prices.map((p) => p.version)).toEqual([1, 2]);
      expect(budgetDefinition.evolve(given(budgetDefinition, [v1]).state, v1)).toEqual(
        given(budgetDefinition, [v1]).state,
      );
    });

    it('rejects unknown currencies, negative prices and models listed twice', () => {
      rejects(publish({ currency: 'ZZZ' }), 'unknown_currency', 'currency');
      rejects(
        publish({ prices: [{ model: 'm', inputMicrosPer1k: -1, outputMicrosPer1k: 0 }] }),
        'negative_price',
        'prices[0].inputMicrosPer1k',
      );
      const twice = { model: 'm', inputMicrosPer1k: 1, outputMicrosPer1k: 1 };
      rejects(publish({ prices: [twice, twice] }), 'duplicate_model', 'prices[1].model');
      rejects(publish({ prices: [] }), 'prices_required', 'prices');
    });
  });
});
