import { MigrationInterface, QueryRunner } from 'typeorm';

/** The effects a switch applies and whether it ended by expiry. */
export class Effects1763700000001 implements MigrationInterface {
  name = 'Effects1763700000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE killswitch.switches
      ADD COLUMN effects text[] NOT NULL DEFAULT '{}',
      ADD COLUMN expired boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE killswitch.switches
      DROP COLUMN effects, DROP COLUMN expired`);
  }
}
