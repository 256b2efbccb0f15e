import { MigrationInterface, QueryRunner } from 'typeorm';

/** Tool catalogue, credentials, delegation grants, audit trail and agent budgets (issue #3). */
export class Identity1763800000000 implements MigrationInterface {
  name = 'Identity1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE registry.tool_contracts (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      tool text NOT NULL,
      version integer NOT NULL,
      definition_digest text NOT NULL,
      definition jsonb NOT NULL,
      withdrawn boolean NOT NULL,
      published_at timestamptz NOT NULL,
      published_by text NOT NULL,
      withdrawn_by text
    )`);
    await q.query(`CREATE INDEX tool_contracts_tenant_tool ON registry.tool_contracts (tenant_id, tool, version)`);
    await q.query(`CREATE TABLE registry.credentials (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      kind text NOT NULL,
      public_jwk jsonb,
      expires_at timestamptz,
      revoked boolean NOT NULL,
      registered_at timestamptz NOT NULL,
      registered_by text NOT NULL,
      revoked_by text
    )`);
    await q.query(`CREATE INDEX credentials_agent ON registry.credentials (tenant_id, agent_id)`);
    await q.query(`CREATE TABLE registry.grants (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      subject text NOT NULL,
      scopes jsonb NOT NULL,
      expires_at timestamptz NOT NULL,
      revoked boolean NOT NULL,
      granted_at timestamptz NOT NULL,
      granted_by text NOT NULL,
      reason text NOT NULL,
      revoked_by text
    )`);
    await q.query(`CREATE INDEX grants_agent ON registry.grants (tenant_id, agent_id)`);
    await q.query(`CREATE INDEX grants_subject ON registry.grants (tenant_id, subject)`);
    await q.query(`CREATE TABLE registry.audit (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      stream text NOT NULL,
      type text NOT NULL,
      by text NOT NULL,
      reason text NOT NULL,
      at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX audit_tenant_at ON registry.audit (tenant_id, at DESC)`);
    await q.query(`CREATE TABLE registry.agent_budgets (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      budget_id text NOT NULL,
      limits jsonb NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['agent_budgets', 'audit', 'grants', 'credentials', 'tool_contracts'])
      await q.query(`DROP TABLE registry.${table}`);
  }
}
