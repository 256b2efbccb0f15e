import { MigrationInterface, QueryRunner } from 'typeorm';

/** Identity links of a tenant (docs/adr/0116, amendment). */
export class IdentityLinks1764000000000 implements MigrationInterface {
  name = 'IdentityLinks1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE registry.identity_links (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      subject text NOT NULL,
      aliases jsonb NOT NULL,
      unlinked boolean NOT NULL,
      linked_at timestamptz NOT NULL,
      linked_by text NOT NULL,
      reason text NOT NULL,
      unlinked_by text
    )`);
    await q.query(`CREATE INDEX identity_links_tenant ON registry.identity_links (tenant_id, linked_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE registry.identity_links`);
  }
}
