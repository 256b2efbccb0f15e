import { MigrationInterface, QueryRunner } from 'typeorm';

/** Kill switches carry their effects: only those that preserve traces hold runs from retention. */
export class KillSwitchEffects1763900000000 implements MigrationInterface {
  name = 'KillSwitchEffects1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trace.kill_switches ADD COLUMN effects jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE trace.kill_switches DROP COLUMN effects`);
  }
}
