import { MigrationInterface, QueryRunner } from 'typeorm';

/** Task context (owner, diff, blast radius, rollback, binding, votes) and standing approvals with their uses. */
export class ApprovalContext1763800000000 implements MigrationInterface {
  name = 'ApprovalContext1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE approval.tasks
      ADD COLUMN owner_team text NOT NULL DEFAULT '',
      ADD COLUMN owner_contact text NOT NULL DEFAULT '',
      ADD COLUMN diff text NOT NULL DEFAULT '',
      ADD COLUMN blast_radius text NOT NULL DEFAULT '',
      ADD COLUMN rollback_path text NOT NULL DEFAULT '',
      ADD COLUMN policy_version text NOT NULL DEFAULT '',
      ADD COLUMN tool_contract_version text NOT NULL DEFAULT '',
      ADD COLUMN approvals_required integer NOT NULL DEFAULT 1,
      ADD COLUMN excluded_approvers jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN votes jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN escalate_at timestamptz,
      ADD COLUMN escalated_at timestamptz,
      ADD COLUMN grant_expires_at timestamptz`);
    await q.query(`CREATE INDEX tasks_team_queue ON approval.tasks (tenant_id, owner_team, status)`);
    await q.query(`CREATE TABLE approval.standing_approvals (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      tool text NOT NULL,
      actions jsonb NOT NULL,
      max_risk_class text NOT NULL,
      max_uses integer NOT NULL,
      status text NOT NULL,
      expires_at timestamptz NOT NULL,
      granted_by text NOT NULL,
      reason text NOT NULL,
      granted_at timestamptz NOT NULL,
      ended_at timestamptz,
      ended_by text
    )`);
    await q.query(`CREATE INDEX standing_tenant ON approval.standing_approvals (tenant_id, granted_at DESC)`);
    await q.query(`CREATE TABLE approval.standing_approval_uses (
      id text PRIMARY KEY,
      standing_id text NOT NULL,
      tenant_id text NOT NULL,
      request_id text NOT NULL,
      run_id text NOT NULL,
      decision_id text NOT NULL,
      used_at timestamptz NOT NULL
    )`);
    await q.query(
      `CREATE INDEX standing_uses ON approval.standing_approval_uses (tenant_id, standing_id, used_at DESC)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE approval.standing_approval_uses`);
    await q.query(`DROP TABLE approval.standing_approvals`);
    await q.query(`DROP INDEX approval.tasks_team_queue`);
    await q.query(`ALTER TABLE approval.tasks
      DROP COLUMN owner_team, DROP COLUMN owner_contact, DROP COLUMN diff, DROP COLUMN blast_radius,
      DROP COLUMN rollback_path, DROP COLUMN policy_version, DROP COLUMN tool_contract_version,
      DROP COLUMN approvals_required, DROP COLUMN excluded_approvers, DROP COLUMN votes,
      DROP COLUMN escalate_at, DROP COLUMN escalated_at, DROP COLUMN grant_expires_at`);
  }
}
