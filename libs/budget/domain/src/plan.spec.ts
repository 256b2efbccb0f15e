import {
  ActionKind,
  BudgetDefined,
  BudgetDefinedSchema,
  BudgetScope,
  create,
  Dimension,
  GateRequested,
  GateRequestedSchema,
  LimitSchema,
  MoneySchema,
  RiskClass,
  ToolContractPublishedSchema,
  ToolContractSchema,
  ToolContractWithdrawnSchema,
  ToolActionSchema,
  Window,
  Envelope,
  Message,
} from '@warden/contracts';
import { applicableLimits, askOf } from './plan';
import { evolveToolRisk, RISK_POINTS, riskPointsOf, ToolRiskTable } from './risk';
import { slotOf, windowStart } from './windows';

const request = (over: Partial<Omit<GateRequested, '$typeName'>> = {}) =>
  create(GateRequestedSchema, {
    requestId: 'r1',
    tenantId: 'acme',
    agentId: 'bot',
    runId: 'run-1',
    actionKind: ActionKind.TOOL_CALL,
    tool: 'tickets',
    action: 'close',
    ...over,
  });
const budget = (
  budgetId: string,
  scope: BudgetScope,
  subject: string,
  dimension: Dimension,
  window: Window,
): BudgetDefined =>
  create(BudgetDefinedSchema, {
    budgetId,
    tenantId: 'acme',
    scope,
    subject,
    limits: [create(LimitSchema, { dimension, limit: 10, window })],
  });
const defs = (...budgets: BudgetDefined[]) => ({ budgets: new Map(budgets.map((b) => [b.budgetId, b])), prices: [] });

describe('applicable limits', () => {
  it("splits a request's limits into the run stage's (run, tool per run) and the ledger's (tool over time, agent, tenant)", () => {
    const state = defs(
      budget('run', BudgetScope.RUN, '', Dimension.TOKENS, Window.RUN),
      budget('tool-run', BudgetScope.TOOL, 'tickets', Dimension.RETRIES, Window.RUN),
      budget('tool-day', BudgetScope.TOOL, '', Dimension.TOOL_CALLS, Window.CALENDAR_DAY),
      budget('agent', BudgetScope.AGENT, 'bot', Dimension.RISK, Window.ROLLING_DAY),
      budget('tenant', BudgetScope.TENANT, '', Dimension.SPEND, Window.CALENDAR_MONTH),
      budget('other-agent', BudgetScope.AGENT, 'helper', Dimension.RISK, Window.ROLLING_DAY),
      budget('other-tool', BudgetScope.TOOL, 'crm', Dimension.TOOL_CALLS, Window.RUN),
    );
    const { local, crossRun } = applicableLimits(state, request(), { tokens: 0, toolCalls: 0 });
    expect(local.map((l) => [l.budgetId, l.meter])).toEqual([
      ['run', 'run'],
      ['tool-run', 'tool:tickets'],
    ]);
    expect(crossRun.map((l) => [l.budgetId, l.meter])).toEqual([
      ['tool-day', 'tool:tickets'],
      ['agent', 'agent:bot'],
      ['tenant', 'tenant'],
    ]);
    expect(
      applicableLimits(state, request({ actionKind: ActionKind.MODEL_CALL }), { tokens: 0, toolCalls: 0 }).crossRun,
    ).toHaveLength(2);
  });

  it('a budget for one subject overrides the one for every subject, per dimension and period only', () => {
    const state = defs(
      budget('every', BudgetScope.AGENT, '', Dimension.TOKENS, Window.CALENDAR_DAY),
      budget('every-hour', BudgetScope.AGENT, '', Dimension.TOKENS, Window.CALENDAR_HOUR),
      budget('bot', BudgetScope.AGENT, 'bot', Dimension.TOKENS, Window.ROLLING_DAY),
    );
    const ids = (agentId: string) =>
      applicableLimits(state, request({ agentId }), { tokens: 0, toolCalls: 0 }).crossRun.map((l) => l.budgetId);
    expect(ids('bot')).toEqual(['every-hour', 'bot']);
    expect(ids('helper')).toEqual(['every', 'every-hour']);
  });
});

describe('the ask', () => {
  it('counts a tool call, a retry after the first attempt, the resource and the estimated cost', () => {
    const cost = create(MoneySchema, { currency: 'USD', micros: 1200 });
    expect(askOf(request({ attempt: 2, estimatedTokens: 5, estimatedCost: cost }), undefined, 3)).toMatchObject({
      tokens: 5,
      toolCalls: 1,
      retries: 1,
      spendMicros: 1200,
      currency: 'USD',
      riskPoints: 3,
      resource: 'tool:tickets',
      priceTableVersion: 0,
    });
    expect(askOf(request({ attempt: 1 }), undefined, 0)).toMatchObject({ retries: 0 });
    const memory = request({ actionKind: ActionKind.MEMORY_READ, memoryStore: 'notes' });
    expect(askOf(memory, undefined, 0)).toMatchObject({ toolCalls: 0, resource: 'memory:notes' });
    const delegation = request({ actionKind: ActionKind.DELEGATION, delegateToAgentId: 'helper' });
    expect(askOf(delegation, undefined, 0).resource).toBe('agent:helper');
    expect(askOf(request({ actionKind: ActionKind.MODEL_CALL }), undefined, 0).resource).toBe('');
  });
});

describe('risk points', () => {
  const on = (data: Message): Envelope => ({
    id: 'e',
    type: data.$typeName,
    source: 't',
    time: 0,
    key: '',
    tenantId: 'acme',
    agentId: '',
    runId: '',
    data,
  });
  const contract = (version: string, riskClass: RiskClass) =>
    on(
      create(ToolContractPublishedSchema, {
        tenantId: 'acme',
        contract: create(ToolContractSchema, {
          tool: 'tickets',
          version,
          actions: [
            create(ToolActionSchema, { name: 'close', riskClass }),
            create(ToolActionSchema, { name: 'read', riskClass: RiskClass.LOW }),
          ],
        }),
      }),
    );

  it('documents the points per class', () => {
    expect(RISK_POINTS).toEqual({
      [RiskClass.UNSPECIFIED]: 10,
      [RiskClass.LOW]: 1,
      [RiskClass.MEDIUM]: 3,
      [RiskClass.HIGH]: 10,
      [RiskClass.CRITICAL]: 30,
    });
  });

  it("takes the action's class from the contracts in force, the highest across versions; unknown counts as high", () => {
    let table: ToolRiskTable = new Map();
    expect(riskPointsOf(table, request())).toBe(10);
    table = evolveToolRisk(table, contract('1', RiskClass.MEDIUM));
    expect(riskPointsOf(table, request())).toBe(3);
    expect(riskPointsOf(table, request({ action: 'read' }))).toBe(1);
    table = evolveToolRisk(table, contract('2', RiskClass.CRITICAL));
    expect(riskPointsOf(table, request())).toBe(30);
    table = evolveToolRisk(
      table,
      on(create(ToolContractWithdrawnSchema, { tenantId: 'acme', tool: 'tickets', version: '2' })),
    );
    expect(riskPointsOf(table, request())).toBe(3);
    expect(riskPointsOf(table, request({ tenantId: 'other' }))).toBe(10);
    expect(riskPointsOf(table, request({ actionKind: ActionKind.MODEL_CALL }))).toBe(0);
  });
});

describe('windows', () => {
  const t = Date.UTC(2026, 1, 15, 13, 47, 12);
  it('calendar windows are UTC hours, days and months; a run window is one slot', () => {
    expect(slotOf(Window.CALENDAR_HOUR, t)).toBe(Date.UTC(2026, 1, 15, 13));
    expect(slotOf(Window.CALENDAR_DAY, t)).toBe(Date.UTC(2026, 1, 15));
    expect(slotOf(Window.CALENDAR_MONTH, t)).toBe(Date.UTC(2026, 1, 1));
    expect(windowStart(Window.CALENDAR_MONTH, t)).toBe(Date.UTC(2026, 1, 1));
    expect([slotOf(Window.RUN, t), windowStart(Window.RUN, t)]).toEqual([0, 0]);
  });

  it('rolling windows count 60 slots back from the current one: at least their whole length', () => {
    expect(slotOf(Window.ROLLING_HOUR, t)).toBe(Date.UTC(2026, 1, 15, 13, 47));
    expect(windowStart(Window.ROLLING_HOUR, t)).toBe(Date.UTC(2026, 1, 15, 12, 47));
    expect(windowStart(Window.ROLLING_DAY, t)).toBeLessThanOrEqual(t - 24 * 3_600_000);
    expect(windowStart(Window.ROLLING_MONTH, t)).toBeLessThanOrEqual(t - 30 * 24 * 3_600_000);
  });
});
