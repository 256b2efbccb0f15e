import { callerHeaders } from '@warden/platform';

/** A tiny HTTP client for the services' admin APIs, calling as the given identity. */
export interface Identity {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly tenant: string;
  /** The token's `email` claim, if any. */
  readonly email?: string;
}

export interface Reply<T = Record<string, unknown>> {
  readonly status: number;
  readonly contentType: string;
  readonly body: T;
}

export async function call<T = Record<string, unknown>>(
  base: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  who: Identity,
  body?: unknown,
): Promise<Reply<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(await callerHeaders(who)) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    body: (text ? JSON.parse(text) : {}) as T,
  };
}

/** A granted tool and the contract version it is pinned to. */
export interface PinnedTool {
  readonly tool: string;
  readonly actions: readonly string[];
  readonly contractVersion: string;
  readonly definitionDigest: string;
}

/** The profile the e2e suites register their payroll agents with (POST /agents). */
export const payrollAgent = (agentId: string, tools: readonly PinnedTool[]) => ({
  agentId,
  mission: 'pay the right people',
  owner: { team: 'payroll', contact: 'payroll@example.com' },
  businessProcess: 'payroll',
  model: 'gpt-5',
  tools,
  environments: ['prod'],
  autonomyLevel: 2,
  shutdownPath: 'disable the payroll connector',
  reason: 'e2e',
});

/** Registers a payroll agent with `tools` and activates it, as `who` (an admin or owner of its tenant). */
export async function registerActiveAgent(
  registryUrl: string,
  who: Identity,
  agentId: string,
  tools: readonly PinnedTool[],
): Promise<void> {
  const registered = await call(registryUrl, 'POST', '/agents', who, payrollAgent(agentId, tools));
  if (registered.status !== 201)
    throw new Error(`registering ${agentId}: ${registered.status} ${JSON.stringify(registered.body)}`);
  const activated = await call(registryUrl, 'POST', `/agents/${agentId}/activate`, who, {
    expectedVersion: registered.body.version,
    reason: 'e2e',
  });
  if (activated.status !== 200)
    throw new Error(`activating ${agentId}: ${activated.status} ${JSON.stringify(activated.body)}`);
}
