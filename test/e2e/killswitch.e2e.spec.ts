import { join } from 'node:path';
import { freshDatabase, kafkaBrokers, eventually, uniquePrefix } from '@warden/platform/testing';
import { WardenClient } from '@warden/sdk';
import {
  ContractPin,
  DEFAULT_PORTS,
  publishToolContracts,
  SERVICES,
  ServiceName,
  Stack,
  startStack,
} from '@warden/local-stack';
import { call, Identity, registerActiveAgent } from './http';

/**
 * Invariant 5 across six processes: once the engage call has returned, no request in the
 * switch's scope is allowed — while requests are being driven at the moment it is engaged, and
 * after policy, budget and approval restart with the switch still active.
 */
jest.setTimeout(240_000);

describe('the kill switch, end to end across six processes', () => {
  const prefix = uniquePrefix('e2e-ks');
  const offset = 1500 + Math.floor(Math.random() * 50) * 10;
  const ports = Object.fromEntries(SERVICES.map((s) => [s, DEFAULT_PORTS[s] + offset])) as Record<ServiceName, number>;
  const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
  const sre: Identity = { subject: 'sam', roles: ['sre'], tenant: 'acme' };
  let db: { url: string; drop(): Promise<void> };
  let stack: Stack;
  const clients = new Map<string, WardenClient>();
  let payroll: ContractPin;

  const gate = (agentId: string, runId: string) =>
    clients.get(agentId)!.gate(
      {
        tenantId: 'acme',
        agentId,
        runId,
        environment: 'prod',
        action: { kind: 'tool_call', tool: 'payroll', name: 'read' },
        estimatedTokens: 1,
      },
      { timeoutMs: 15_000 },
    );

  async function registerAgent(agentId: string) {
    await registerActiveAgent(stack.urls.registry, admin, agentId, [
      { tool: 'payroll', actions: ['read'], ...payroll },
    ]);
    const agent = { tenantId: 'acme', agentId };
    clients.set(agentId, await WardenClient.connect({ brokers: kafkaBrokers(), topicPrefix: prefix, agent }));
  }

  beforeAll(async () => {
    db = await freshDatabase('e2e_ks');
    stack = await startStack({
      brokers: kafkaBrokers().join(','),
      databaseUrl: db.url,
      topicPrefix: prefix,
      ports,
      logDir: join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix),
      // These agents are identified by their registration; agent tokens are tested elsewhere.
      env: { POLICY_AGENT_TOKENS: 'optional' },
    });
    ({ payroll } = await publishToolContracts(stack.urls.registry, admin, {
      payroll: { description: 'the payroll system', ownerTeam: 'payroll', actions: [['read', 'low', false]] },
    }));
    await registerAgent('payroll-bot');
    await registerAgent('ledger-bot');
    await eventually(
      async () => (await gate('payroll-bot', 'run-warmup')).verdict === 'allow',
      30_000,
      'the registry to reach the gate',
    );
  });

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    if (stack) await stack.stop();
    await db?.drop();
  });

  it('drives requests while engaging: after the engage call returned, zero requests in scope are allowed', async () => {
    type Sent = { agentId: string; sentAt: number; verdict: string };
    const sent: Sent[] = [];
    let driving = true;
    let n = 0;
    const driver = async (agentId: string) => {
      while (driving) {
        const runId = `run-${agentId}-${n++}`;
        const sentAt = performance.now();
        const r = await gate(agentId, runId);
        sent.push({ agentId, sentAt, verdict: r.verdict });
      }
    };
    const drivers = [
      ...Array.from({ length: 4 }, () => driver('payroll-bot')),
      ...Array.from({ length: 2 }, () => driver('ledger-bot')),
    ];
    let returnedAt = 0;
    try {
      // Enough samples on each side of the engage (waits, not timed assertions: a busy machine is slower).
      await eventually(
        () => sent.filter((s) => s.agentId === 'payroll-bot' && s.verdict === 'allow').length >= 10,
        60_000,
      );
      const engaged = await call(stack.urls.killswitch, 'POST', '/killswitches', sre, {
        switchId: 'ks-e2e',
        scope: { tenantId: 'acme', agentId: 'payroll-bot' },
        reason: 'paying the wrong accounts',
      });
      returnedAt = performance.now();
      expect(engaged.status).toBe(201);
      await eventually(
        () => sent.filter((s) => s.sentAt > returnedAt && s.agentId === 'payroll-bot').length >= 40,
        90_000,
      );
      await eventually(
        () => sent.filter((s) => s.sentAt > returnedAt && s.agentId === 'ledger-bot').length >= 10,
        90_000,
      );
    } finally {
      // Whatever happened, the drivers stop: a failed wait must not leave them looping.
      driving = false;
      await Promise.all(drivers);
    }

    const after = sent.filter((s) => s.sentAt > returnedAt);
    const inScope = after.filter((s) => s.agentId === 'payroll-bot');
    expect(inScope.filter((s) => s.verdict === 'allow')).toEqual([]);
    expect(new Set(inScope.map((s) => s.verdict))).toEqual(new Set(['deny']));
    // Before the engage the same agent was allowed, and out of scope the gate kept allowing.
    expect(sent.some((s) => s.sentAt < returnedAt && s.agentId === 'payroll-bot' && s.verdict === 'allow')).toBe(true);
    expect(after.filter((s) => s.agentId === 'ledger-bot').every((s) => s.verdict === 'allow')).toBe(true);
  });

  it('after policy, budget and approval restart with the switch active, requests in scope are still denied', async () => {
    for (const service of ['policy', 'budget', 'approval'] as const) await stack.restart(service);
    const inScope = await Promise.all(Array.from({ length: 10 }, (_, i) => gate('payroll-bot', `run-restarted-${i}`)));
    expect(inScope.map((r) => r.verdict)).toEqual(Array(10).fill('deny'));
    expect((await gate('ledger-bot', 'run-restarted-other')).verdict).toBe('allow');
  });

  it('after release, the scope is allowed again', async () => {
    const released = await call(stack.urls.killswitch, 'POST', '/killswitches/ks-e2e/release', sre, {
      reason: 'fixed',
    });
    expect(released.status).toBe(200);
    await eventually(
      async () => (await gate('payroll-bot', 'run-after-release')).verdict === 'allow',
      20_000,
      'release',
    );
  });
});
