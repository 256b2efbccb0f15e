import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePorts } from '@warden/platform/testing';
import { ensurePostgres } from './postgres';

const ENV = ['DATABASE_URL', 'WARDEN_EMBEDDED_PG', 'WARDEN_EMBEDDED_PG_PORT', 'WARDEN_HOME'] as const;
const TIMEOUT = 120_000;

/** Synchronous so that the test can be skipped when no server listens on 127.0.0.1:5432. */
function localServerUp(): boolean {
  const probe = `require('net').connect(5432,'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('ensurePostgres', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    for (const key of ENV) {
      saved[key] = process.env[key];
      delete process.env[key];
    }
  });
  afterEach(() => {
    for (const key of ENV) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });

  it('names DATABASE_URL when the given server cannot be reached', async () => {
    process.env.DATABASE_URL = 'postgres://postgres:secret@127.0.0.1:1/warden';
    await expect(ensurePostgres()).rejects.toThrow(
      /DATABASE_URL \(postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/warden\)/,
    );
  });

  (localServerUp() ? it : it.skip)(
    'uses the local server on 5432 and creates the database idempotently, even concurrently',
    async () => {
      const database = `warden_spec_${randomBytes(4).toString('hex')}`;
      let url: string | undefined;
      try {
        const [a, b] = await Promise.all([ensurePostgres({ database }), ensurePostgres({ database })]);
        url = a.url;
        expect(a.url).toBe(b.url);
        expect(a.embedded).toBe(false);
        expect(new URL(a.url).port).toBe('5432');
        expect(await query(a.url, 'select current_database() as db')).toEqual([{ db: database }]);
        const again = await ensurePostgres({ database });
        expect(again.url).toBe(a.url);
        await Promise.all([a.stop(), b.stop(), again.stop()]); // no-ops

        // Path 1 goes through the same creation code.
        process.env.DATABASE_URL = a.url;
        expect((await ensurePostgres({ database: 'ignored' })).url).toBe(a.url);
      } finally {
        if (url) {
          const admin = new URL(url);
          admin.pathname = '/postgres';
          await query(admin.toString(), `drop database if exists "${database}"`);
        }
      }
    },
    TIMEOUT,
  );

  it(
    'starts an embedded server (WARDEN_EMBEDDED_PG=1) whose data persists across restarts',
    async () => {
      const home = await mkdtemp(join(tmpdir(), 'warden-pg-'));
      await chmod(home, 0o755); // as root the server runs as `postgres`, which must be able to enter it
      process.env.WARDEN_HOME = home;
      process.env.WARDEN_EMBEDDED_PG = '1';
      process.env.WARDEN_EMBEDDED_PG_PORT = String((await freePorts(1))[0]);
      try {
        const first = await ensurePostgres({ database: 'warden_spec' });
        try {
          expect(first.embedded).toBe(true);
          expect(new URL(first.url).port).toBe(process.env.WARDEN_EMBEDDED_PG_PORT);
          expect(await query(first.url, 'select 1 as one')).toEqual([{ one: 1 }]);
          await query(first.url, 'create table probe (id int); insert into probe values (7)');
        } finally {
          await first.stop();
        }
        await expect(query(first.url, 'select 1')).rejects.toThrow(); // really stopped

        const second = await ensurePostgres({ database: 'warden_spec' });
        try {
          expect(await query(second.url, 'select id from probe')).toEqual([{ id: 7 }]);
        } finally {
          await second.stop();
        }
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    },
    TIMEOUT,
  );
});
