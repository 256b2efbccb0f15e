import { MigrationInterface, QueryRunner } from 'typeorm';

/** The trace fabric: more request columns, the audit chain, kill switches and holds. */
export class TraceFabric1763800000000 implements MigrationInterface {
  name = 'TraceFabric1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trace.requests
      ADD COLUMN model text,
      ADD COLUMN memory_store text,
      ADD COLUMN delegate_to_agent_id text,
      ADD COLUMN parent_step_id text,
      ADD COLUMN traceparent text,
      ADD COLUMN policy_bundle_version text,
      ADD COLUMN risk_score integer,
      ADD COLUMN risk_class text`);
    await q.query(`CREATE INDEX requests_by_agent ON trace.requests (tenant_id, agent_id, requested_at)`);
    await q.query(`CREATE INDEX requests_by_time ON trace.requests (tenant_id, requested_at DESC)`);
    await q.query(`CREATE TABLE trace.audit (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      seq double precision NOT NULL,
      decision_id text NOT NULL,
      request_id text NOT NULL,
      run_id text NOT NULL,
      agent_id text NOT NULL,
      verdict text NOT NULL,
      reason text NOT NULL,
      decided_at_ms double precision NOT NULL,
      policy_bundle_version text NOT NULL,
      policies jsonb NOT NULL,
      decision_sha256 text NOT NULL,
      source text NOT NULL,
      prev_hash text NOT NULL,
      hash text NOT NULL
    )`);
    await q.query(`CREATE INDEX audit_chain ON trace.audit (tenant_id, seq)`);
    await q.query(`CREATE INDEX audit_by_run ON trace.audit (tenant_id, run_id)`);
    await q.query(`CREATE TABLE trace.kill_switches (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      run_id text NOT NULL,
      tool text NOT NULL,
      reason text,
      engaged_by text,
      engaged_at timestamptz,
      expires_at timestamptz,
      released_by text,
      released_at timestamptz
    )`);
    await q.query(`CREATE TABLE trace.holds (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      run_id text NOT NULL,
      agent_id text NOT NULL,
      kind text,
      reason text,
      placed_by text,
      placed_at timestamptz,
      released_by text,
      released_at timestamptz,
      release_reason text
    )`);
    await q.query(`CREATE INDEX holds_by_run ON trace.holds (tenant_id, run_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE trace.holds`);
    await q.query(`DROP TABLE trace.kill_switches`);
    await q.query(`DROP TABLE trace.audit`);
    await q.query(`DROP INDEX trace.requests_by_time`);
    await q.query(`DROP INDEX trace.requests_by_agent`);
    await q.query(`ALTER TABLE trace.requests
      DROP COLUMN model, DROP COLUMN memory_store, DROP COLUMN delegate_to_agent_id, DROP COLUMN parent_step_id,
      DROP COLUMN traceparent, DROP COLUMN policy_bundle_version, DROP COLUMN risk_score, DROP COLUMN risk_class`);
  }
}
