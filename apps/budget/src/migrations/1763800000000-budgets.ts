import { MigrationInterface, QueryRunner } from 'typeorm';

/** The meters of runs and tenants, and the step costs behind cost per run, agent and outcome. */
export class Budgets1763800000000 implements MigrationInterface {
  name = 'Budgets1763800000000';

  async up(q: QueryRunner): Promise<void> {
    // run_usage gains the run's meters: replay it from Kafka so every row has them.
    await q.query(`ALTER TABLE budget.run_usage ADD COLUMN meters jsonb NOT NULL DEFAULT '{}'::jsonb`);
    await q.query(`TRUNCATE budget.run_usage`);
    await q.query(`DELETE FROM budget.projection_checkpoints WHERE projection = 'run-usage'`);
    await q.query(`CREATE TABLE budget.tenant_usage (
      id text PRIMARY KEY,
      meters jsonb NOT NULL,
      seq double precision NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE TABLE budget.step_costs (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      run_id text NOT NULL,
      request_id text NOT NULL,
      business_outcome text NOT NULL,
      outcome text NOT NULL,
      currency text NOT NULL,
      cost_micros double precision NOT NULL,
      tokens double precision NOT NULL,
      at timestamptz NOT NULL
    )`);
    for (const column of ['run_id', 'agent_id', 'business_outcome', 'at']) {
      await q.query(`CREATE INDEX step_costs_${column} ON budget.step_costs (tenant_id, ${column})`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE budget.step_costs`);
    await q.query(`DROP TABLE budget.tenant_usage`);
    await q.query(`ALTER TABLE budget.run_usage DROP COLUMN meters`);
  }
}
