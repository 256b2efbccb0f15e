import { callerHeaders, CallerIdentity } from '@warden/platform';

/** A tool's actions for a contract: name, risk class and whether the action always needs approval. */
export interface ContractSpec {
  readonly description: string;
  /** The team that owns the tool. */
  readonly ownerTeam: string;
  readonly actions: readonly (readonly [
    name: string,
    riskClass: 'low' | 'medium' | 'high' | 'critical',
    approval: boolean,
  ])[];
}

/** What an agent pins for a tool: the contract version and the digest of its definition. */
export interface ContractPin {
  readonly contractVersion: string;
  readonly definitionDigest: string;
}

/**
 * Publishes tool contracts through the registry's HTTP API, as a tool owner would (`POST /tools`),
 * and returns what agents pin for each tool. Publishing the same definition again changes nothing
 * and returns the same pin, so this is safe to run at every start.
 */
export async function publishToolContracts(
  registryUrl: string,
  who: CallerIdentity,
  contracts: Readonly<Record<string, ContractSpec>>,
): Promise<Record<string, ContractPin>> {
  const pins: Record<string, ContractPin> = {};
  for (const [tool, spec] of Object.entries(contracts)) {
    const res = await fetch(`${registryUrl}/tools`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await callerHeaders(who)) },
      body: JSON.stringify({
        tool,
        description: spec.description,
        ownerTeam: spec.ownerTeam,
        inputSchema: { type: 'object' },
        outputSchema: { type: 'object' },
        actions: spec.actions.map(([name, riskClass, requiresApproval]) => ({
          name,
          riskClass,
          requiresApproval,
          auditEvent: `${tool}.${name}`,
        })),
        reason: 'published by the local stack',
      }),
    });
    const body = (await res.json()) as { version?: string; definitionDigest?: string };
    if (!res.ok || !body.version || !body.definitionDigest) {
      throw new Error(`publishing the ${tool} contract: ${res.status} ${JSON.stringify(body)}`);
    }
    pins[tool] = { contractVersion: body.version, definitionDigest: body.definitionDigest };
  }
  return pins;
}
