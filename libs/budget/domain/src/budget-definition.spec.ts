import { BudgetDefinedSchema, BudgetScope, create, Dimension, LimitSchema } from '@warden/contracts';
import { given } from '@warden/kernel';
import { budgetDefinition, BudgetDefinitionCommand, runLimits } from './budget-definition';

const now = 1_700_000_000_000;
const define = (over: Partial<BudgetDefinitionCommand> = {}): BudgetDefinitionCommand => ({
  type: 'DefineRunBudget',
  tenantId: 'acme',
  budgetId: 'b-1',
  limits: [
    { dimension: 'tokens', limit: 5000 },
    { dimension: 'tool_calls', limit: 20 },
  ],
  by: 'olga',
  roles: ['owner'],
  now,
  ...over,
});
const defined = create(BudgetDefinedSchema, {
  budgetId: 'b-1',
  tenantId: 'acme',
  scope: BudgetScope.RUN,
  subject: '',
  limits: [
    create(LimitSchema, { dimension: Dimension.TOKENS, limit: 5000 }),
    create(LimitSchema, { dimension: Dimension.TOOL_CALLS, limit: 20 }),
  ],
  definedBy: 'olga',
  definedAtMs: now,
});
const defaults = { tokens: 100_000, toolCalls: 1000 };

describe('budget definition decider', () => {
  it('defines the run-scope limits of a tenant', () => {
    given(budgetDefinition).when(define()).then([defined]);
  });

  it('redefines with new limits, and records nothing when the limits are the same', () => {
    const [changed] = given(budgetDefinition, [defined])
      .when(define({ limits: [{ dimension: 'tokens', limit: 0 }] }))
      .thenEvents();
    expect(changed.limits).toEqual([create(LimitSchema, { dimension: Dimension.TOKENS, limit: 0 })]);
    given(budgetDefinition, [defined])
      .when(
        define({
          limits: [
            { dimension: 'tool_calls', limit: 20 },
            { dimension: 'tokens', limit: 5000 },
          ],
        }),
      )
      .then([]);
  });

  it('needs the role admin or owner', () => {
    given(budgetDefinition)
      .when(define({ roles: ['sre'] }))
      .thenThrows('forbidden', 'role_required');
    given(budgetDefinition)
      .when(define({ roles: ['admin'] }))
      .thenEvents();
  });

  it('needs a tenant', () => {
    const error = given(budgetDefinition)
      .when(define({ tenantId: '' }))
      .thenThrows('invalid', 'tenant_required');
    expect(error.field).toBe('tenantId');
  });

  it('rejects a negative limit, naming the field', () => {
    const error = given(budgetDefinition)
      .when(define({ limits: [{ dimension: 'tokens', limit: -1 }] }))
      .thenThrows('invalid', 'negative_limit');
    expect(error.field).toBe('limits[0].limit');
  });

  it('rejects a non-numeric limit', () => {
    const error = given(budgetDefinition)
      .when(define({ limits: [{ dimension: 'tokens', limit: Number.NaN }] }))
      .thenThrows('invalid', 'invalid_limit');
    expect(error.field).toBe('limits[0].limit');
  });

  it('rejects an unknown dimension, naming the field', () => {
    for (const dimension of ['spend', 'toString', '']) {
      const error = given(budgetDefinition)
        .when(
          define({
            limits: [
              { dimension: 'tokens', limit: 1 },
              { dimension, limit: 1 },
            ],
          }),
        )
        .thenThrows('invalid', 'unknown_dimension');
      expect(error.field).toBe('limits[1].dimension');
    }
  });

  it('rejects a dimension listed twice, naming the second', () => {
    const error = given(budgetDefinition)
      .when(
        define({
          limits: [
            { dimension: 'tokens', limit: 1 },
            { dimension: 'tool_calls', limit: 1 },
            { dimension: 'tokens', limit: 2 },
          ],
        }),
      )
      .thenThrows('invalid', 'duplicate_dimension');
    expect(error.field).toBe('limits[2].dimension');
  });

  it('ignores definitions of other scopes (not enforced yet)', () => {
    const state = given(budgetDefinition, [defined]).state;
    expect(budgetDefinition.evolve(state, { ...defined, scope: BudgetScope.AGENT, subject: 'bot' })).toBe(state);
  });

  it('run limits: the tenant definition per dimension, else the configured default', () => {
    expect(runLimits(undefined, defaults)).toEqual(defaults);
    expect(runLimits(given(budgetDefinition, [defined]).state, defaults)).toEqual({ tokens: 5000, toolCalls: 20 });
    const onlyTokens = { ...defined, limits: [create(LimitSchema, { dimension: Dimension.TOKENS, limit: 0 })] };
    expect(runLimits(given(budgetDefinition, [onlyTokens]).state, defaults)).toEqual({ tokens: 0, toolCalls: 1000 });
  });
});
