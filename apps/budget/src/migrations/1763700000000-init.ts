import { MigrationInterface, QueryRunner } from 'typeorm';
import { checkpointTableSql } from '@warden/platform';

export class Init1763700000000 implements MigrationInterface {
  name = 'Init1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(checkpointTableSql('budget'));
    await q.query(`CREATE TABLE budget.run_usage (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      reserved_tokens double precision NOT NULL,
      settled_tokens double precision NOT NULL,
      released_tokens double precision NOT NULL,
      reservations integer NOT NULL,
      refusals integer NOT NULL,
      cost_micros double precision NOT NULL,
      currency text NOT NULL,
      ledger jsonb NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX run_usage_tenant ON budget.run_usage (tenant_id, updated_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE budget.run_usage`);
    await q.query(`DROP TABLE budget.projection_checkpoints`);
  }
}
