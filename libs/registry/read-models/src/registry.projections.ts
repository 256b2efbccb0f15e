import {
  BudgetDefined,
  BudgetScope,
  Change,
  CredentialKind,
  Dimension,
  Envelope,
  Topic,
  ToolContractPublished,
  ToolContractWithdrawn,
} from '@warden/contracts';
import { normalIdentity } from '@warden/kernel';
import { ProjectionDefinition } from '@warden/platform';
import {
  AuthorityEvent,
  IdentityLinkEvent,
  keyUseName,
  plainDefinition,
  SigningKeyEvent,
} from '@warden/registry-domain';

const at = (change: Change | undefined) => new Date(change?.atMs ?? 0).toISOString();

/** registry.tool_contracts: one row per version of a tool's contract in a tenant (the catalogue). */
export interface ToolContractRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly tool: string;
  readonly version: number;
  readonly definition_digest: string;
  readonly definition: ReturnType<typeof plainDefinition>;
  readonly withdrawn: boolean;
  readonly published_at: string;
  readonly published_by: string;
  readonly withdrawn_by: string | null;
  readonly [column: string]: unknown;
}

type ToolEvent = ToolContractPublished | ToolContractWithdrawn;
const toolRowId = (tenant: string, tool: string, version: string) => `${tenant}/${tool}/${version}`;

export const toolContractsProjection: ProjectionDefinition<ToolContractRow> = {
  name: 'tool-contracts',
  table: 'registry.tool_contracts',
  topics: [Topic.registryEvents],
  handles: ['warden.registry.v1.ToolContractPublished', 'warden.registry.v1.ToolContractWithdrawn'],
  rowId(event: Envelope) {
    const data = event.data as ToolEvent;
    if (data.$typeName === 'warden.registry.v1.ToolContractPublished')
      return data.contract && toolRowId(data.tenantId, data.contract.tool, data.contract.version);
    return toolRowId(data.tenantId, data.tool, data.version);
  },
  evolve(row, event) {
    const data = event.data as ToolEvent;
    if (data.$typeName === 'warden.registry.v1.ToolContractPublished') {
      const contract = data.contract!;
      if (row) return row;
      return {
        id: toolRowId(data.tenantId, contract.tool, contract.version),
        tenant_id: data.tenantId,
        tool: contract.tool,
        version: Number(contract.version),
        definition_digest: contract.definitionDigest,
        definition: plainDefinition(contract),
        withdrawn: false,
        published_at: at(data.change),
        published_by: data.change?.by ?? '',
        withdrawn_by: null,
      };
    }
    if (!row || row.withdrawn) return row;
    return { ...row, withdrawn: true, withdrawn_by: data.change?.by ?? '' };
  },
};

/** registry.credentials: an agent's credentials, without any secret (the hash stays on the topic). */
export interface CredentialRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly kind: 'client_secret' | 'public_key';
  readonly public_jwk: unknown;
  readonly expires_at: string | null;
  readonly revoked: boolean;
  readonly registered_at: string;
  readonly registered_by: string;
  readonly revoked_by: string | null;
  readonly [column: string]: unknown;
}

export const credentialsProjection: ProjectionDefinition<CredentialRow> = {
  name: 'credentials',
  table: 'registry.credentials',
  topics: [Topic.registryEvents],
  handles: ['warden.registry.v1.AgentCredentialRegistered', 'warden.registry.v1.AgentCredentialRevoked'],
  rowId: (event) => (event.data as AuthorityEvent & { credentialId: string }).credentialId,
  evolve(row, event) {
    const data = event.data as AuthorityEvent;
    if (data.$typeName === 'warden.registry.v1.AgentCredentialRegistered') {
      if (row) return row;
      return {
        id: data.credentialId,
        tenant_id: data.tenantId,
        agent_id: data.agentId,
        kind: data.kind === CredentialKind.PUBLIC_KEY ? 'public_key' : 'client_secret',
        public_jwk: data.publicJwk ? (JSON.parse(data.publicJwk) as unknown) : null,
        expires_at: data.expiresAtMs ? new Date(data.expiresAtMs).toISOString() : null,
        revoked: false,
        registered_at: at(data.change),
        registered_by: data.change?.by ?? '',
        revoked_by: null,
      };
    }
    if (data.$typeName !== 'warden.registry.v1.AgentCredentialRevoked' || !row || row.revoked) return row;
    return { ...row, revoked: true, revoked_by: data.change?.by ?? '' };
  },
};

/** registry.grants: delegation grants, live or not (expiry is compared at query time). */
export interface GrantRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly expires_at: string;
  readonly revoked: boolean;
  readonly granted_at: string;
  readonly granted_by: string;
  readonly reason: string;
  readonly revoked_by: string | null;
  readonly [column: string]: unknown;
}

export const grantsProjection: ProjectionDefinition<GrantRow> = {
  name: 'grants',
  table: 'registry.grants',
  topics: [Topic.registryEvents],
  handles: ['warden.registry.v1.DelegationGranted', 'warden.registry.v1.DelegationRevoked'],
  rowId: (event) => (event.data as AuthorityEvent & { grantId: string }).grantId,
  evolve(row, event) {
    const data = event.data as AuthorityEvent;
    if (data.$typeName === 'warden.registry.v1.DelegationGranted') {
      if (row) return row;
      return {
        id: data.grantId,
        tenant_id: data.tenantId,
        agent_id: data.agentId,
        subject: data.subject,
        scopes: [...data.scopes],
        expires_at: new Date(data.expiresAtMs).toISOString(),
        revoked: false,
        granted_at: at(data.change),
        granted_by: data.change?.by ?? '',
        reason: data.change?.reason ?? '',
        revoked_by: null,
      };
    }
    if (data.$typeName !== 'warden.registry.v1.DelegationRevoked' || !row || row.revoked) return row;
    return { ...row, revoked: true, revoked_by: data.change?.by ?? '' };
  },
};

/** registry.audit: one row per registry event — who changed what, when and why. */
export interface AuditRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly stream: string;
  readonly type: string;
  readonly by: string;
  readonly reason: string;
  readonly at: string;
  readonly [column: string]: unknown;
}

export const REGISTRY_EVENT_TYPES = [
  'warden.registry.v1.AgentRegistered',
  'warden.registry.v1.AgentProfileUpdated',
  'warden.registry.v1.AgentActivated',
  'warden.registry.v1.AgentSuspended',
  'warden.registry.v1.AgentRetired',
  'warden.registry.v1.ToolContractPublished',
  'warden.registry.v1.ToolContractWithdrawn',
  'warden.registry.v1.AgentCredentialRegistered',
  'warden.registry.v1.AgentCredentialRevoked',
  'warden.registry.v1.DelegationGranted',
  'warden.registry.v1.DelegationRevoked',
  'warden.registry.v1.SigningKeyRotated',
  'warden.registry.v1.SigningKeyRetired',
  'warden.registry.v1.IdentityLinked',
  'warden.registry.v1.IdentityUnlinked',
];

/**
 * Every event is recorded as it was published, including ones that lost a race on their stream
 * (those never changed state, and the record says what was attempted). Signing keys belong to
 * no tenant (tenant_id '').
 */
export const auditProjection: ProjectionDefinition<AuditRow> = {
  name: 'audit',
  table: 'registry.audit',
  topics: [Topic.registryEvents],
  handles: REGISTRY_EVENT_TYPES,
  rowId: (event) => event.id,
  evolve(row, event) {
    if (row) return row;
    const data = event.data as { change?: Change; tenantId?: string } & (SigningKeyEvent | object);
    const subject =
      'kid' in data ? `${keyUseName((data as SigningKeyEvent).use)}:${(data as SigningKeyEvent).kid}` : event.key;
    return {
      id: event.id,
      tenant_id: data.tenantId ?? '',
      stream: subject,
      type: event.type.replace('warden.registry.v1.', ''),
      by: data.change?.by ?? '',
      reason: data.change?.reason ?? '',
      at: at(data.change),
    };
  },
};

/** registry.agent_budgets: what each agent may spend, folded from budget definitions (budget.events). */
export interface AgentBudgetRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly agent_id: string;
  readonly budget_id: string;
  readonly limits: Readonly<Record<string, number>>;
  readonly [column: string]: unknown;
}

const DIMENSIONS: Readonly<Record<number, string>> = {
  [Dimension.TOKENS]: 'tokens',
  [Dimension.TOOL_CALLS]: 'toolCalls',
  [Dimension.RETRIES]: 'retries',
  [Dimension.TIME]: 'timeMs',
  [Dimension.SPEND]: 'spend',
  [Dimension.SCOPE]: 'scope',
  [Dimension.RISK]: 'risk',
};

export const agentBudgetsProjection: ProjectionDefinition<AgentBudgetRow> = {
  name: 'agent-budgets',
  table: 'registry.agent_budgets',
  topics: [Topic.budgetEvents],
  handles: ['warden.budget.v1.BudgetDefined'],
  rowId(event) {
    const data = event.data as BudgetDefined;
    return data.scope === BudgetScope.AGENT && data.subject ? `${data.tenantId}/${data.subject}` : undefined;
  },
  evolve(_row, event) {
    const data = event.data as BudgetDefined;
    const limits: Record<string, number> = {};
    for (const limit of data.limits) limits[DIMENSIONS[limit.dimension] ?? 'unspecified'] = limit.limit;
    return {
      id: `${data.tenantId}/${data.subject}`,
      tenant_id: data.tenantId,
      agent_id: data.subject,
      budget_id: data.budgetId,
      limits,
    };
  },
};

/** registry.identity_links: a tenant's identity links (docs/adr/0116), one row per subject, live or unlinked. */
export interface IdentityLinkRow {
  readonly id: string;
  readonly tenant_id: string;
  readonly subject: string;
  readonly aliases: readonly string[];
  readonly unlinked: boolean;
  readonly linked_at: string;
  readonly linked_by: string;
  readonly reason: string;
  readonly unlinked_by: string | null;
  readonly [column: string]: unknown;
}

export const identityLinksProjection: ProjectionDefinition<IdentityLinkRow> = {
  name: 'identity-links',
  table: 'registry.identity_links',
  topics: [Topic.registryEvents],
  handles: ['warden.registry.v1.IdentityLinked', 'warden.registry.v1.IdentityUnlinked'],
  rowId(event) {
    const data = event.data as IdentityLinkEvent;
    return `${data.tenantId}/${normalIdentity(data.subject)}`;
  },
  evolve(row, event) {
    const data = event.data as IdentityLinkEvent;
    if (data.$typeName === 'warden.registry.v1.IdentityLinked') {
      return {
        id: `${data.tenantId}/${normalIdentity(data.subject)}`,
        tenant_id: data.tenantId,
        subject: data.subject,
        aliases: [...data.aliases],
        unlinked: false,
        linked_at: at(data.change),
        linked_by: data.change?.by ?? '',
        reason: data.change?.reason ?? '',
        unlinked_by: null,
      };
    }
    if (!row || row.unlinked) return row;
    return { ...row, unlinked: true, unlinked_by: data.change?.by ?? '' };
  },
};
