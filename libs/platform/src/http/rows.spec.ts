import { rowView, rowViews } from './rows';

describe('rows as the APIs answer them', () => {
  it('renames the columns to camelCase and leaves the values, jsonb included, as stored', () => {
    const row = {
      id: 'a-1',
      tenant_id: 'acme',
      decision_latency_ms_max: 5,
      labels: { cost_center: 'cc-7' },
      tools: [{ tool: 'tickets', contract_version: '1' }],
    };
    expect(rowView(row)).toEqual({
      id: 'a-1',
      tenantId: 'acme',
      decisionLatencyMsMax: 5,
      labels: { cost_center: 'cc-7' },
      tools: [{ tool: 'tickets', contract_version: '1' }],
    });
    expect(rowViews([row, { run_id: 'r' }]).map((r) => Object.keys(r)[0])).toEqual(['id', 'runId']);
  });
});
