import { WardenClient } from '@warden/sdk';
import { ContractSpec, publishToolContracts } from '@warden/local-stack';
import { call, Identity } from '../e2e/http';

/** The agent the load is made of: one tenant, one agent, one granted tool action. */
export const BENCH_AGENT = { tenantId: 'bench', agentId: 'bench-bot', tool: 'tickets', action: 'read' } as const;

/** The contract of the bench tool, published before the agent pins it. */
export const BENCH_CONTRACTS: Record<string, ContractSpec> = {
  [BENCH_AGENT.tool]: {
    description: 'the bench tool',
    ownerTeam: 'platform',
    actions: [[BENCH_AGENT.action, 'low', false]],
  },
};

const ADMIN: Identity = { subject: 'bench', roles: ['admin'], tenant: BENCH_AGENT.tenantId };

/** Registers the bench agent with the tool the load uses and activates it. */
export async function registerBenchAgent(registryUrl: string): Promise<void> {
  const pins = await publishToolContracts(registryUrl, ADMIN, BENCH_CONTRACTS);
  const registered = await call(registryUrl, 'POST', '/agents', ADMIN, {
    agentId: BENCH_AGENT.agentId,
    mission: 'read tickets as fast as the gate allows',
    owner: { team: 'platform', contact: 'platform@example.com' },
    businessProcess: 'benchmark',
    model: 'bench-model',
    tools: [{ tool: BENCH_AGENT.tool, actions: [BENCH_AGENT.action], ...pins[BENCH_AGENT.tool] }],
    environments: ['prod'],
    autonomyLevel: 2,
    shutdownPath: 'stop the bench',
    reason: 'npm run bench',
  });
  if (registered.status !== 201) {
    throw new Error(`registering the bench agent failed: ${registered.status} ${JSON.stringify(registered.body)}`);
  }
  const activated = await call(registryUrl, 'POST', `/agents/${BENCH_AGENT.agentId}/activate`, ADMIN, {
    expectedVersion: registered.body.version,
    reason: 'npm run bench',
  });
  if (activated.status !== 200) {
    throw new Error(`activating the bench agent failed: ${activated.status} ${JSON.stringify(activated.body)}`);
  }
}

/**
 * Asks the gate once a second until the bench agent is allowed (the registry's events have
 * reached the policy service), so the measured load never races the setup. Throws with the
 * last answer when it is not allowed in time: the setup is wrong, not slow.
 */
export async function waitUntilAllowed(client: WardenClient, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  for (let i = 0; Date.now() < until; i++) {
    const result = await client.gate(
      {
        tenantId: BENCH_AGENT.tenantId,
        agentId: BENCH_AGENT.agentId,
        runId: `bench-probe-${i}`,
        environment: 'prod',
        action: { kind: 'tool_call', tool: BENCH_AGENT.tool, name: BENCH_AGENT.action },
        estimatedTokens: 1,
      },
      { timeoutMs: 5000 },
    );
    if (result.allowed) return;
    last = `${result.verdict}: ${result.reason}`;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`the bench agent is still not allowed after ${timeoutMs} ms (last answer ${last})`);
}
