import { randomBytes } from 'node:crypto';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { callerHeaders } from '@warden/platform';
import { AgentCredentials, GateInput, WardenClient } from '@warden/sdk';
import { ContractSpec, publishToolContracts } from '../local/tool-contracts';

/** A scripted agent that shows the gate at work: allowed calls, denials, a kill switch and its release. */
export interface DemoUrls {
  readonly registry: string;
  readonly killswitch: string;
  readonly trace: string;
}

/** The demo's tool contracts, published through the registry; the demo agent pins what it gets back. */
export const DEMO_CONTRACTS: Record<string, ContractSpec> = {
  tickets: {
    description: 'the support ticket system',
    ownerTeam: 'support',
    actions: [
      ['read', 'low', false],
      ['draft', 'medium', false],
      ['close', 'medium', false],
    ],
  },
  payments: {
    description: 'supplier payments',
    ownerTeam: 'finance-ops',
    actions: [
      ['read', 'low', false],
      ['pay', 'critical', false],
    ],
  },
};

const headers = async (roles: string) => ({
  'content-type': 'application/json',
  ...(await callerHeaders({ subject: 'demo-operator', roles, tenant: 'demo' })),
});

async function post(url: string, body: unknown, roles = 'admin'): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: await headers(roles), body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const color = {
  allow: '\x1b[32m',
  deny: '\x1b[31m',
  expired: '\x1b[33m',
  pending_approval: '\x1b[36m',
  already_completed: '\x1b[34m',
  reset: '\x1b[0m',
  dim: '\x1b[2m',
};

/** Connects the demo agent's client once the agent is registered (a client speaks for one agent). */
export type DemoConnect = (
  agent: { tenantId: string; agentId: string },
  credentials: AgentCredentials,
) => Promise<WardenClient>;

/**
 * Runs `fn` in a new trace, as an agent framework would around each step: the gate request carries
 * its `traceparent`, and the budget and policy stages add their spans to it.
 */
function inNewTrace<T>(fn: () => Promise<T>): Promise<T> {
  const span = trace.wrapSpanContext({
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: TraceFlags.SAMPLED,
  });
  return context.with(trace.setSpan(context.active(), span), fn);
}

export async function runDemo(
  connect: DemoConnect,
  urls: DemoUrls,
  signal: AbortSignal,
  print: (line: string) => void,
): Promise<void> {
  const agentId = `invoice-bot-${Date.now().toString(36)}`;
  const pins = await publishToolContracts(
    urls.registry,
    { subject: 'demo-operator', roles: 'admin', tenant: 'demo' },
    DEMO_CONTRACTS,
  );
  print(
    `published tool contracts: ${Object.entries(pins)
      .map(([t, p]) => `${t} v${p.contractVersion}`)
      .join(', ')}`,
  );
  const registered = await post(`${urls.registry}/agents`, {
    agentId,
    mission: 'Triage supplier invoices and draft replies',
    owner: { team: 'finance-ops', contact: 'finance-ops@example.com' },
    businessProcess: 'accounts-payable',
    model: 'gpt-5-mini',
    tools: [
      { tool: 'tickets', actions: ['read', 'draft'], ...pins.tickets },
      { tool: 'payments', actions: ['read'], ...pins.payments },
    ],
    environments: ['prod'],
    autonomyLevel: 2,
    shutdownPath: 'disable the invoice-bot connector in the orchestrator',
    reason: 'demo',
  });
  await post(`${urls.registry}/agents/${agentId}/activate`, { expectedVersion: registered.version, reason: 'demo' });
  print(`registered and activated ${agentId} (tenant demo): may read/draft tickets and read payments`);
  const credential = await post(`${urls.registry}/agents/${agentId}/credentials`, {
    kind: 'client_secret',
    reason: 'demo: the agent proves who it is with a client secret',
  });
  const client = await connect(
    { tenantId: 'demo', agentId },
    { registryUrl: urls.registry, agentId, clientSecret: credential.clientSecret as string },
  );
  print(
    `registered credential ${credential.credentialId as string}; the agent proves its requests with short-lived tokens bound to its key`,
  );
  try {
    await play(client, agentId, urls, signal, print);
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function play(
  client: WardenClient,
  agentId: string,
  urls: DemoUrls,
  signal: AbortSignal,
  print: (line: string) => void,
): Promise<void> {
  const step = (tool: string, action: string): Omit<GateInput, 'runId'> => ({
    environment: 'prod',
    action: { kind: 'tool_call', tool, name: action },
    arguments: { invoice: 'INV-1042', apiKey: 'sk-live-demo' },
    estimatedTokens: 800,
  });
  const script: (Omit<GateInput, 'runId'> | { killswitch: 'engage' | 'release' })[] = [
    step('tickets', 'read'),
    {
      environment: 'prod',
      action: { kind: 'model_call' },
      model: 'gpt-5-mini',
      estimatedTokens: 1200,
    },
    step('tickets', 'draft'),
    step('payments', 'read'),
    step('payments', 'pay'),
    step('tickets', 'close'),
    { killswitch: 'engage' },
    step('tickets', 'read'),
    step('payments', 'read'),
    { killswitch: 'release' },
    step('tickets', 'read'),
  ];
  let switchId = '';
  for (let round = 1; !signal.aborted; round++) {
    const runId = `run-${round}`;
    print(`${color.dim}-- ${runId} --${color.reset}`);
    for (const item of script) {
      if (signal.aborted) return;
      if ('killswitch' in item) {
        if (item.killswitch === 'engage') {
          const s = await post(
            `${urls.killswitch}/killswitches`,
            { scope: { tenantId: 'demo', agentId }, reason: 'demo: agent drafting to the wrong supplier' },
            'sre',
          );
          switchId = s.switchId as string;
          print(`${color.deny}SRE engaged kill switch ${switchId} on ${agentId}${color.reset}`);
        } else {
          await post(`${urls.killswitch}/killswitches/${switchId}/release`, { reason: 'demo: fixed' }, 'sre');
          print(`${color.allow}SRE released kill switch ${switchId}${color.reset}`);
        }
        continue;
      }
      const started = performance.now();
      const result = await inNewTrace(() => client.gate({ ...item, runId }, { timeoutMs: 5000 }));
      const ms = (performance.now() - started).toFixed(1).padStart(6);
      const what = item.action.kind === 'tool_call' ? `${item.action.tool}.${item.action.name}` : item.action.kind;
      print(
        `${what.padEnd(16)} ${color[result.verdict]}${result.verdict.toUpperCase().padEnd(8)}${color.reset} ${ms} ms  ${result.reason}`,
      );
      if (result.allowed) {
        await client.reportOutcome({
          request: result.request,
          status: 'completed',
          actualTokens: 650,
          durationMs: 120,
        });
      }
      await new Promise((r) => setTimeout(r, 600));
    }
    print(`${color.dim}trace of ${runId}: ${urls.trace}/runs/${runId} (with a token of tenant demo)${color.reset}`);
  }
}
