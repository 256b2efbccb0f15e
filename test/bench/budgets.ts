import { call, Identity } from '../e2e/http';
import { BENCH_AGENT } from './agent';

const ADMIN: Identity = { subject: 'bench', roles: ['admin'], tenant: BENCH_AGENT.tenantId };

/**
 * BENCH_BUDGETS=tenant: gives the bench tenant an agent and a tenant budget the load never uses
 * up, so every request also passes the tenant's ledger (the cross-run hop of ADR 0030).
 */
export async function defineBenchBudgets(budgetUrl: string): Promise<void> {
  const budgets = [
    {
      id: 'bench-agent',
      body: {
        scope: 'agent',
        subject: BENCH_AGENT.agentId,
        limits: [{ dimension: 'tokens', window: 'calendar_day', limit: 1_000_000_000, degradeAtPercent: 80 }],
      },
    },
    {
      id: 'bench-tenant',
      body: {
        scope: 'tenant',
        limits: [
          { dimension: 'tool_calls', window: 'rolling_hour', limit: 1_000_000_000 },
          { dimension: 'risk', window: 'calendar_month', limit: 1_000_000_000_000 },
        ],
      },
    },
  ];
  for (const b of budgets) {
    const reply = await call(budgetUrl, 'PUT', `/budgets/${b.id}`, ADMIN, b.body);
    if (reply.status !== 200)
      throw new Error(`defining budget ${b.id} failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  }
}
