import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { SERVICES } from '@warden/local-stack';

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
