import { MigrationInterface, QueryRunner } from 'typeorm';
import { checkpointTableSql } from '@warden/platform';

export class Init1763700000000 implements MigrationInterface {
  name = 'Init1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(checkpointTableSql('killswitch'));
    await q.query(`CREATE TABLE killswitch.switches (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      run_id text NOT NULL,
      tool text NOT NULL,
      reason text NOT NULL,
      engaged_by text NOT NULL,
      engaged_at timestamptz NOT NULL,
      expires_at timestamptz,
      released_by text,
      released_at timestamptz,
      release_reason text
    )`);
    await q.query(`CREATE INDEX switches_active ON killswitch.switches (tenant_id) WHERE released_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE killswitch.switches`);
    await q.query(`DROP TABLE killswitch.projection_checkpoints`);
  }
}
