import { forbidden, invalid } from './errors';

/**
 * The roles of Warden's admin APIs and what each may do: the one table every service checks
 * (ADR 0111). The five tenant roles act only within their token's tenant; `platform-admin` holds
 * what spans tenants: the signing keys, trace's projections and retention, and acting on another
 * tenant or on all of them (a global kill switch, another tenant's switches).
 */
export const ROLES = ['admin', 'owner', 'approver', 'sre', 'auditor', 'platform-admin'] as const;
export type Role = (typeof ROLES)[number];

/** What each role is for, as the README's table says it. */
export const ROLE_MEANINGS: Readonly<Record<Role, string>> = {
  admin: "a tenant's administrator: its agents, tools, credentials, policy bundles, budgets, approvals, holds",
  owner: 'owns agents of a tenant: registers and changes them, their credentials, tools and budgets',
  approver: "votes on a tenant's approval tasks and grants standing approvals",
  sre: "operates a tenant's agents: kill switches, suspending agents, revoking credentials",
  auditor: "reads a tenant's traces, audit trail, approvals and policy; places legal holds",
  'platform-admin': 'operates what all tenants share and acts across tenants',
};

const TENANT_ROLES = ['admin', 'owner', 'approver', 'sre', 'auditor'] as const;

/** Every permission: what it allows (as error messages name it) and the roles that hold it. */
export const PERMISSIONS = {
  'tenant.read': {
    what: "reading the tenant's agents, tools, budgets, usage, kill switches and decisions",
    roles: [...TENANT_ROLES, 'platform-admin'],
  },
  'tenant.cross': { what: 'acting on another tenant or on every tenant', roles: ['platform-admin'] },
  'registry.agents.write': { what: 'registering, changing or activating an agent', roles: ['admin', 'owner'] },
  'registry.agents.suspend': { what: 'suspending an agent', roles: ['admin', 'owner', 'sre'] },
  'registry.agents.retire': { what: 'retiring an agent', roles: ['admin'] },
  'registry.credentials.register': { what: 'registering a credential', roles: ['admin', 'owner'] },
  'registry.credentials.revoke': { what: 'revoking a credential', roles: ['admin', 'owner', 'sre'] },
  'registry.credentials.read': { what: 'listing credentials', roles: ['admin', 'owner', 'sre', 'auditor'] },
  'registry.grants.own': { what: 'granting or revoking a delegation to oneself', roles: [...TENANT_ROLES] },
  'registry.grants.others': { what: 'granting or revoking a delegation to someone else', roles: ['admin', 'owner'] },
  'registry.tools.write': { what: 'publishing or withdrawing a tool contract', roles: ['admin', 'owner'] },
  'registry.identities.write': {
    what: 'linking or unlinking the identities of one person (separation of duties)',
    roles: ['admin'],
  },
  'registry.identities.read': { what: 'listing identity links', roles: ['admin', 'approver', 'auditor'] },
  'registry.audit.read': { what: "reading the registry's audit trail", roles: ['admin', 'auditor'] },
  'registry.keys.read': {
    what: 'listing the signing keys and their changes',
    roles: ['admin', 'auditor', 'platform-admin'],
  },
  'registry.keys.write': { what: 'rotating or retiring a signing key', roles: ['platform-admin'] },
  'policy.bundles.read': {
    what: 'reading policy bundles, shadow reports and what-if runs',
    roles: ['admin', 'owner', 'sre', 'auditor'],
  },
  'policy.bundles.write': { what: 'publishing, activating or rolling back policy bundles', roles: ['admin'] },
  'budget.write': { what: 'defining budgets and prices', roles: ['admin', 'owner'] },
  'approval.tasks.read': { what: 'reading approval tasks', roles: ['admin', 'owner', 'approver', 'auditor'] },
  'approval.tasks.vote': { what: 'voting on approval tasks', roles: ['admin', 'approver'] },
  'approval.standing.write': { what: 'granting or revoking standing approvals', roles: ['admin', 'approver'] },
  'killswitch.write': { what: 'engaging or releasing a kill switch', roles: ['admin', 'sre', 'platform-admin'] },
  'trace.read': { what: 'reading traces, runs and the audit chain', roles: ['admin', 'owner', 'sre', 'auditor'] },
  'trace.holds.write': { what: 'placing or releasing holds', roles: ['admin', 'auditor'] },
  'trace.operate': { what: "operating trace's projections and retention", roles: ['platform-admin'] },
} as const satisfies Record<string, { readonly what: string; readonly roles: readonly Role[] }>;
export type Permission = keyof typeof PERMISSIONS;

/** Whoever calls: its roles and its token's tenant ('' when the token names none). */
export interface RoleHolder {
  readonly roles: readonly string[];
}
export interface TenantActor extends RoleHolder {
  readonly tenantId: string;
}

export function holds(actor: RoleHolder, permission: Permission): boolean {
  const allowed: readonly string[] = PERMISSIONS[permission].roles;
  return actor.roles.some((role) => allowed.includes(role));
}

/** Throws 403 role_required unless the actor holds one of the permission's roles. */
export function requireRole(actor: RoleHolder, permission: Permission): void {
  if (holds(actor, permission)) return;
  const { what, roles } = PERMISSIONS[permission];
  throw forbidden('role_required', `${what} needs one of the roles ${roles.join(', ')}`);
}

/** Whether the actor may act on `tenantId` ('' = every tenant): its own, or any as platform-admin. */
export function actsOn(actor: TenantActor, tenantId: string): boolean {
  return (tenantId !== '' && tenantId === actor.tenantId) || holds(actor, 'tenant.cross');
}

/** Throws 403 platform_admin_required unless the actor may act on `tenantId` ('' = every tenant). */
export function requireTenant(actor: TenantActor, tenantId: string, action: string): void {
  if (actsOn(actor, tenantId)) return;
  const whose = tenantId === '' ? 'every tenant (no tenant)' : `tenant ${tenantId}`;
  throw forbidden('platform_admin_required', `${action} on ${whose} needs the role platform-admin`);
}

/** The tenant the caller's token names; 400 missing_tenant when it names none. */
export function tokenTenant(actor: { readonly tenantId: string }): string {
  if (actor.tenantId === '') throw invalid('missing_tenant', "the caller's token carries no tenant claim", 'tenant');
  return actor.tenantId;
}

/** The common case: the caller holds `permission` and acts in its token's tenant. Returns that tenant. */
export function ownTenant(actor: TenantActor, permission: Permission): string {
  requireRole(actor, permission);
  return tokenTenant(actor);
}
