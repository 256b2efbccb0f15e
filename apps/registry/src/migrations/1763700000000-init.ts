import { MigrationInterface, QueryRunner } from 'typeorm';
import { checkpointTableSql } from '@warden/platform';

export class Init1763700000000 implements MigrationInterface {
  name = 'Init1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(checkpointTableSql('registry'));
    await q.query(`CREATE TABLE registry.agents (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      state text NOT NULL,
      version integer NOT NULL,
      mission text NOT NULL,
      owner_team text NOT NULL,
      owner_contact text NOT NULL,
      business_process text NOT NULL,
      model text NOT NULL,
      autonomy_level smallint NOT NULL,
      tools jsonb NOT NULL,
      memory jsonb NOT NULL,
      forbidden_memory_classes jsonb NOT NULL,
      environments jsonb NOT NULL,
      shutdown_path text NOT NULL,
      rollback_path text NOT NULL,
      delegates_to jsonb NOT NULL,
      budget_profile text NOT NULL,
      labels jsonb NOT NULL,
      updated_at timestamptz NOT NULL,
      updated_by text NOT NULL,
      update_reason text NOT NULL
    )`);
    await q.query(`CREATE INDEX agents_tenant_state ON registry.agents (tenant_id, state)`);
    await q.query(`CREATE INDEX agents_tools ON registry.agents USING gin (tools jsonb_path_ops)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE registry.agents`);
    await q.query(`DROP TABLE registry.projection_checkpoints`);
  }
}
