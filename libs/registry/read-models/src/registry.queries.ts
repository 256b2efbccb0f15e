import { DataSource } from 'typeorm';
import {
  AgentBudgetRow,
  AuditRow,
  CredentialRow,
  GrantRow,
  IdentityLinkRow,
  ToolContractRow,
} from './registry.projections';

const limitOf = (limit: number | undefined) => Math.min(limit ?? 100, 1000);

/** A tenant's tool catalogue: the versions of each tool (optionally one tool), newest first. */
export function listToolContracts(
  db: DataSource,
  tenantId: string,
  filter: { tool?: string; includeWithdrawn?: boolean; limit?: number } = {},
): Promise<ToolContractRow[]> {
  const args: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  if (filter.tool) {
    args.push(filter.tool);
    where.push(`tool = $${args.length}`);
  }
  if (!filter.includeWithdrawn) where.push('NOT withdrawn');
  args.push(limitOf(filter.limit));
  return db.query(
    `SELECT * FROM registry.tool_contracts WHERE ${where.join(' AND ')} ORDER BY tool, version DESC LIMIT $${args.length}`,
    args,
  );
}

export async function getToolContract(
  db: DataSource,
  tenantId: string,
  tool: string,
  version: number,
): Promise<ToolContractRow | undefined> {
  const rows: ToolContractRow[] = await db.query(
    `SELECT * FROM registry.tool_contracts WHERE tenant_id = $1 AND tool = $2 AND version = $3`,
    [tenantId, tool, version],
  );
  return rows[0];
}

/** An agent's credentials (never a secret). */
export function listCredentials(db: DataSource, tenantId: string, agentId: string): Promise<CredentialRow[]> {
  return db.query(
    `SELECT * FROM registry.credentials WHERE tenant_id = $1 AND agent_id = $2 ORDER BY registered_at, id`,
    [tenantId, agentId],
  );
}

export interface GrantFilter {
  readonly agentId?: string;
  readonly subject?: string;
  /** Only grants that are neither revoked nor expired at `atMs`. */
  readonly liveAt?: number;
  readonly limit?: number;
}

export function listGrants(db: DataSource, tenantId: string, filter: GrantFilter = {}): Promise<GrantRow[]> {
  const args: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  const add = (sql: (arg: string) => string, value: unknown) => {
    args.push(value);
    where.push(sql(`$${args.length}`));
  };
  if (filter.agentId) add((a) => `agent_id = ${a}`, filter.agentId);
  if (filter.subject) add((a) => `subject = ${a}`, filter.subject);
  if (filter.liveAt !== undefined) add((a) => `NOT revoked AND expires_at > ${a}`, new Date(filter.liveAt));
  args.push(limitOf(filter.limit));
  return db.query(
    `SELECT * FROM registry.grants WHERE ${where.join(' AND ')} ORDER BY granted_at DESC, id LIMIT $${args.length}`,
    args,
  );
}

export interface AuditFilter {
  /** An agent id, `tool:<tenant>/<tool>`, or `<use>:<kid>` for signing keys. */
  readonly stream?: string;
  readonly by?: string;
  readonly type?: string;
  readonly sinceMs?: number;
  /** Include platform-wide events (signing keys), for admins. */
  readonly platform?: boolean;
  readonly limit?: number;
}

/** Who changed what in a tenant, when and why; newest first. */
export function audit(db: DataSource, tenantId: string, filter: AuditFilter = {}): Promise<AuditRow[]> {
  const args: unknown[] = [tenantId];
  const where = [filter.platform ? `(tenant_id = $1 OR tenant_id = '')` : 'tenant_id = $1'];
  const add = (sql: (arg: string) => string, value: unknown) => {
    args.push(value);
    where.push(sql(`$${args.length}`));
  };
  if (filter.stream) add((a) => `stream = ${a}`, filter.stream);
  if (filter.by) add((a) => `by = ${a}`, filter.by);
  if (filter.type) add((a) => `type = ${a}`, filter.type);
  if (filter.sinceMs !== undefined) add((a) => `at >= ${a}`, new Date(filter.sinceMs));
  args.push(limitOf(filter.limit));
  return db.query(
    `SELECT * FROM registry.audit WHERE ${where.join(' AND ')} ORDER BY at DESC, id LIMIT $${args.length}`,
    args,
  );
}

export function agentBudgets(db: DataSource, tenantId: string): Promise<AgentBudgetRow[]> {
  return db.query(`SELECT * FROM registry.agent_budgets WHERE tenant_id = $1`, [tenantId]);
}

/** A tenant's identity links, newest first; unlinked ones only when asked. */
export function listIdentityLinks(
  db: DataSource,
  tenantId: string,
  filter: { includeUnlinked?: boolean; limit?: number } = {},
): Promise<IdentityLinkRow[]> {
  return db.query(
    `SELECT * FROM registry.identity_links WHERE tenant_id = $1 ${filter.includeUnlinked ? '' : 'AND NOT unlinked'}
     ORDER BY linked_at DESC, id LIMIT $2`,
    [tenantId, limitOf(filter.limit)],
  );
}
