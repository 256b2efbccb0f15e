import { randomBytes, randomUUID } from 'node:crypto';
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { callerHeaders } from '@warden/platform';
import { AgentCredentials, GateInput, WardenClient } from '@warden/sdk';
import { ContractSpec, publishToolContracts } from '../local/tool-contracts';

/**
 * A scripted agent that shows the gate at work: allowed calls, a draft its autonomy level sends to
 * an approver (who approves it), denials, a kill switch and its release.
 */
export interface DemoUrls {
  readonly registry: string;
  readonly killswitch: string;
  readonly approval: string;
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

const headers = async (roles: string, subject = 'demo-operator') => ({
  'content-type': 'application/json',
  ...(await callerHeaders({ subject, roles, tenant: 'demo' })),
});

async function post(url: string, body: unknown, roles = 'admin', subject?: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: await headers(roles, subject), body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** The demo's approver: a person with role approver in tenant demo (not the agent's owner or requester). */
const APPROVER = 'demo-approver';

/**
 * Plays the approver for one request: waits for its approval task to open, prints it, and approves
 * the arguments it shows. Stops quietly when the gate answered without asking (`settled`).
 */
async function approveWhenAsked(
  urls: DemoUrls,
  requestId: string,
  settled: AbortSignal,
  print: (line: string) => void,
): Promise<void> {
  for (let i = 0; i < 100 && !settled.aborted; i++) {
    const res = await fetch(`${urls.approval}/tasks?status=open`, { headers: await headers('approver', APPROVER) });
    const tasks = res.ok ? ((await res.json()) as Record<string, unknown>[]) : [];
    const task = tasks.find((t) => t.requestId === requestId);
    if (task) {
      const reasons = (task.reasons ?? []) as string[];
      print(
        `${''.padEnd(16)} ${color.pending_approval}PENDING_APPROVAL${color.reset} ${reasons.at(-1) ?? ''} (task ${task.id as string})`,
      );
      await post(
        `${urls.approval}/tasks/${task.id as string}/approve`,
        { argumentsDigest: task.argumentsDigest, comment: 'demo: the draft reads well' },
        'approver',
        APPROVER,
      );
      print(`${color.dim}${APPROVER} approved task ${task.id as string}${color.reset}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
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
    // ADR 0013 level 2: low-risk calls go through, a medium-risk draft needs an approver.
    autonomyLevel: 2,
    shutdownPath: 'disable the invoice-bot connector in the orchestrator',
    reason: 'demo',
  });
  await post(`${urls.registry}/agents/${agentId}/activate`, { expectedVersion: registered.version, reason: 'demo' });
  print(
    `registered and activated ${agentId} (tenant demo, autonomy level 2): may read tickets and payments; drafts need approval`,
  );
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
  type Step = Omit<GateInput, 'runId'> & { readonly approver?: true };
  const step = (tool: string, action: string, approver?: true): Step => ({
    environment: 'prod',
    action: { kind: 'tool_call', tool, name: action },
    arguments: { invoice: 'INV-1042', apiKey: 'sk-live-demo' },
    estimatedTokens: 800,
    approver,
  });
  const script: (Step | { killswitch: 'engage' | 'release' })[] = [
    step('tickets', 'read'),
    {
      environment: 'prod',
      action: { kind: 'model_call' },
      model: 'gpt-5-mini',
      estimatedTokens: 1200,
    },
    // Medium risk above the agent's level: the gate asks, the demo's approver approves.
    step('tickets', 'draft', true),
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
      const { approver, ...input } = item;
      const what = input.action.kind === 'tool_call' ? `${input.action.tool}.${input.action.name}` : input.action.kind;
      const started = performance.now();
      const requestId = randomUUID();
      const settled = new AbortController();
      const approving = approver
        ? approveWhenAsked(urls, requestId, settled.signal, print).catch((error: Error) =>
            print(`${color.deny}the approver could not approve: ${error.message}${color.reset}`),
          )
        : Promise.resolve();
      if (approver) print(`${what.padEnd(16)} ${color.dim}asks the gate...${color.reset}`);
      const result = await inNewTrace(() =>
        client.gate(
          { ...input, runId, requestId },
          { timeoutMs: 5000, approvalTimeoutMs: approver ? 15_000 : undefined },
        ),
      ).finally(() => settled.abort());
      await approving;
      const ms = (performance.now() - started).toFixed(1).padStart(6);
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
