import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SERVICES } from '@warden/local-stack';
import { DEV_KEY_ENCRYPTION_KEY } from '@warden/platform';
import { freshDatabase } from '@warden/platform/testing';

const root = join(__dirname, '..', '..');

describe('every service validates its configuration at start', () => {
  it.each(SERVICES)('%s stops with a message naming the wrong variables', (service) => {
    const run = spawnSync(process.execPath, [join(root, 'dist', 'apps', service, 'src', 'main.js')], {
      env: {
        PATH: process.env.PATH,
        KAFKA_BROKERS: 'no-port-here',
        WARDEN_PARTITIONS: '0',
        DATABASE_URL: 'mysql://nope',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('invalid configuration');
    for (const name of ['KAFKA_BROKERS', 'WARDEN_PARTITIONS', 'DATABASE_URL']) expect(run.stderr).toContain(name);
  });
});

describe('every service migrates its schema by command', () => {
  let db: { url: string; drop(): Promise<void> };
  beforeAll(async () => {
    db = await freshDatabase('migrate');
  });
  afterAll(async () => {
    await db.drop();
  });

  it.each(SERVICES)('%s migrate applies its migrations once, then finds the schema up to date', (service) => {
    const migrate = () =>
      spawnSync(process.execPath, [join(root, 'dist', 'apps', service, 'src', 'main.js'), 'migrate'], {
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: db.url,
          LOG_LEVEL: 'error',
          WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
        },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const first = migrate();
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^${service}: applied `));
    const second = migrate();
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(`${service}: schema up to date\n`);
  });
});
