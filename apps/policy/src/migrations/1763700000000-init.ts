import { MigrationInterface, QueryRunner } from 'typeorm';
import { checkpointTableSql } from '@warden/platform';

export class Init1763700000000 implements MigrationInterface {
  name = 'Init1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(checkpointTableSql('policy'));
    await q.query(`CREATE TABLE policy.decisions (
      id text PRIMARY KEY,
      decision_id text NOT NULL,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      run_id text NOT NULL,
      verdict text NOT NULL,
      reason text NOT NULL,
      evaluations jsonb NOT NULL,
      decided_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX decisions_run ON policy.decisions (tenant_id, run_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE policy.decisions`);
    await q.query(`DROP TABLE policy.projection_checkpoints`);
  }
}
