import { DataSource } from 'typeorm';
import { AgentStatus } from '@warden/registry-domain';
import { AgentRow } from './agents.projection';

/** Filters of the agent list; every query is scoped to one tenant. */
export interface AgentFilter {
  readonly ownerTeam?: string;
  /** Agents granted this tool (any action). */
  readonly tool?: string;
  readonly businessProcess?: string;
  readonly autonomyLevel?: number;
  readonly state?: AgentStatus;
  readonly limit?: number;
}

export async function listAgents(db: DataSource, tenantId: string, filter: AgentFilter = {}): Promise<AgentRow[]> {
  const args: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  const add = (sql: (arg: string) => string, value: unknown) => {
    args.push(value);
    where.push(sql(`$${args.length}`));
  };
  if (filter.ownerTeam) add((a) => `owner_team = ${a}`, filter.ownerTeam);
  if (filter.tool) add((a) => `tools @> ${a}::jsonb`, JSON.stringify([{ tool: filter.tool }]));
  if (filter.businessProcess) add((a) => `business_process = ${a}`, filter.businessProcess);
  if (filter.autonomyLevel !== undefined) add((a) => `autonomy_level = ${a}`, filter.autonomyLevel);
  if (filter.state) add((a) => `state = ${a}`, filter.state);
  args.push(Math.min(filter.limit ?? 100, 1000));
  return db.query(`SELECT * FROM registry.agents WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${args.length}`, args);
}

/** One agent of a tenant; another tenant's agent is simply not there. */
export async function getAgent(db: DataSource, tenantId: string, agentId: string): Promise<AgentRow | undefined> {
  const rows: AgentRow[] = await db.query(`SELECT * FROM registry.agents WHERE tenant_id = $1 AND id = $2`, [
    tenantId,
    agentId,
  ]);
  return rows[0];
}

/** One running agent in the inventory: who owns it, what it can touch, how to stop it. */
export type InventoryEntry = Pick<
  AgentRow,
  | 'id'
  | 'version'
  | 'mission'
  | 'owner_team'
  | 'owner_contact'
  | 'business_process'
  | 'model'
  | 'autonomy_level'
  | 'tools'
  | 'environments'
  | 'shutdown_path'
  | 'rollback_path'
  | 'budget_profile'
>;

export interface Inventory {
  readonly tenantId: string;
  readonly running: number;
  readonly agents: (InventoryEntry & {
    /** What it may spend: the limits of its agent-scope budget (budget.events), null when none is defined. */
    readonly budget_limits: Readonly<Record<string, number>> | null;
  })[];
}

/**
 * The five questions, for one tenant: which agents are running (active), who owns them, which
 * tools they can touch (and at which pinned contract version), how much they can spend (their
 * budget profile and the limits of their agent budget), how to shut each down (and roll back).
 */
export async function inventory(db: DataSource, tenantId: string): Promise<Inventory> {
  const agents: Inventory['agents'] = await db.query(
    `SELECT a.id, a.version, a.mission, a.owner_team, a.owner_contact, a.business_process, a.model,
            a.autonomy_level, a.tools, a.environments, a.shutdown_path, a.rollback_path, a.budget_profile,
            b.limits AS budget_limits
       FROM registry.agents a
       LEFT JOIN registry.agent_budgets b ON b.tenant_id = a.tenant_id AND b.agent_id = a.id
      WHERE a.tenant_id = $1 AND a.state = 'active' ORDER BY a.owner_team, a.id`,
    [tenantId],
  );
  return { tenantId, running: agents.length, agents };
}
