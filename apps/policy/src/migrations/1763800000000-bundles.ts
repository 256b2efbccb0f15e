import { MigrationInterface, QueryRunner } from 'typeorm';

export class Bundles1763800000000 implements MigrationInterface {
  name = 'Bundles1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE policy.bundle_versions (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      bundle_id text NOT NULL,
      version text NOT NULL,
      digest text NOT NULL,
      description text NOT NULL,
      rules jsonb NOT NULL,
      tests jsonb NOT NULL,
      source text NOT NULL,
      published_by text NOT NULL,
      published_at timestamptz NOT NULL,
      activations jsonb NOT NULL
    )`);
    await q.query(`CREATE INDEX bundle_versions_tenant ON policy.bundle_versions (tenant_id, published_at)`);
    await q.query(`CREATE TABLE policy.shadow_decisions (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      request_id text NOT NULL,
      decision_id text NOT NULL,
      agent_id text NOT NULL,
      bundle_id text NOT NULL,
      live_verdict text NOT NULL,
      active_version text NOT NULL,
      active_effect text NOT NULL,
      shadow_version text NOT NULL,
      shadow_effect text NOT NULL,
      flipped boolean NOT NULL,
      flipped_rules jsonb NOT NULL,
      shadow_rules jsonb NOT NULL,
      decided_at timestamptz NOT NULL
    )`);
    await q.query(
      `CREATE INDEX shadow_decisions_tenant ON policy.shadow_decisions (tenant_id, shadow_version, decided_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE policy.shadow_decisions`);
    await q.query(`DROP TABLE policy.bundle_versions`);
  }
}
