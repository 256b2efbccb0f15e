import { DataSource, MigrationInterface } from 'typeorm';

export interface DatabaseOptions {
  readonly url: string;
  /** The service's own schema; every table of the service lives in it. */
  readonly schema: string;
  readonly migrations: (new () => MigrationInterface)[];
}

/**
 * One schema per service; typeorm migrations (tracked in that schema's `migrations` table)
 * create it, run by `<service> migrate` and at start.
 */
export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    schema: options.schema,
    migrations: options.migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    entities: [],
    synchronize: false,
    logging: false,
    extra: { max: 8, application_name: `warden-${options.schema}` },
  });
}

export async function migrate(dataSource: DataSource, schema: string): Promise<string[]> {
  await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}

/** SQL of the checkpoint table every service with projections has. */
export function checkpointTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS "${schema}".projection_checkpoints (
    projection text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
  )`;
}
