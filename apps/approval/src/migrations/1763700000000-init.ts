import { MigrationInterface, QueryRunner } from 'typeorm';
import { checkpointTableSql } from '@warden/platform';

export class Init1763700000000 implements MigrationInterface {
  name = 'Init1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(checkpointTableSql('approval'));
    await q.query(`CREATE TABLE approval.tasks (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      run_id text NOT NULL,
      request_id text NOT NULL,
      decision_id text NOT NULL,
      status text NOT NULL,
      tool text NOT NULL,
      action text NOT NULL,
      arguments_digest text NOT NULL,
      risk_class text NOT NULL,
      risk_score integer NOT NULL,
      reasons jsonb NOT NULL,
      request jsonb NOT NULL,
      opened_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      resolved_at timestamptz,
      resolved_by text,
      comment text
    )`);
    await q.query(`CREATE INDEX tasks_queue ON approval.tasks (tenant_id, status, opened_at DESC)`);
    await q.query(`CREATE INDEX tasks_request ON approval.tasks (tenant_id, request_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE approval.tasks`);
    await q.query(`DROP TABLE approval.projection_checkpoints`);
  }
}
