import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WardenClient } from '@warden/sdk';
import { DemoConnect, runDemo } from './demo/agent';
import { ensurePostgres } from './local/postgres';
import { portsFromEnv, startStack } from './local/stack';

/**
 * `npm start`: fetches and starts the Kafka broker, finds or starts Postgres, starts the six
 * services and the HTTP gate as separate processes, runs a demo agent whose decisions print here, and on Ctrl-C
 * (SIGINT) or SIGTERM stops it all in order (demo, services, then the Postgres and broker it
 * started) and exits 0 — whether the output goes to a terminal, a file or a pipe that is gone.
 *
 * Signing keys are sealed with the development key-encryption key unless WARDEN_KEY_ENCRYPTION_KEY
 * is set (ADR 0110): the keys persist in Kafka, so every later run must open them with the same KEK.
 */
const root = resolve(__dirname, '..', '..');
const home = resolve(process.env.WARDEN_HOME || join(root, '.warden'));
const kafka = join(root, 'deploy', 'local', 'kafka.sh');
const logDir = join(home, 'logs');
mkdirSync(logDir, { recursive: true });
const startLog = join(logDir, 'start.log');

// A reader that went away (`| tee` dies with the terminal's Ctrl-C) must not stop the shutdown:
// lines then go only to start.log.
let terminal = true;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    terminal = false;
  });
}

function say(line: string): void {
  const text = `${new Date().toISOString().slice(11, 23)}  ${line}\n`;
  appendFileSync(startLog, text.replace(/\x1b\[[0-9;]*m/g, ''));
  if (terminal) process.stdout.write(text);
}

/** Runs a helper script in a process group of its own (a Ctrl-C must not cut it short); its output goes to say(). */
function run(command: string, args: readonly string[], label: string): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let rest = '';
    const lines = (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) say(`${label}: ${part}`);
    };
    child.stdout.on('data', lines);
    child.stderr.on('data', lines);
    child.on('error', fail);
    child.on('close', (code) => {
      if (rest.trim()) say(`${label}: ${rest}`);
      done(code ?? 1);
    });
  });
}

/** What was started, stopped in reverse order; a signal during start-up waits for the step in progress. */
const started: { name: string; stop: () => Promise<void> }[] = [];
let inProgress: Promise<unknown> = Promise.resolve();
let stopping: Promise<void> | undefined;
const abort = new AbortController();

class Stopping extends Error {}

async function step<T>(begin: () => Promise<T>, end?: { name: string; stop: (value: T) => Promise<void> }) {
  if (abort.signal.aborted) throw new Stopping();
  const current = (async () => {
    const value = await begin();
    if (end) started.push({ name: end.name, stop: () => end.stop(value) });
    return value;
  })();
  inProgress = current.catch(() => undefined);
  return current;
}

function stop(code: number, why: string): Promise<void> {
  if (stopping) {
    say(`${why}: already stopping`);
    return stopping;
  }
  abort.abort();
  say(`${why}: stopping...`);
  stopping = (async () => {
    await inProgress;
    for (const done of started.reverse()) {
      try {
        await done.stop();
      } catch (error) {
        say(`stopping ${done.name} failed: ${(error as Error).message}`);
        code = 1;
      }
    }
    say('bye');
    process.exit(code);
  })();
  return stopping;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(0, signal));

async function main(): Promise<void> {
  say(`starting Warden (pid ${process.pid}; this output is also in ${startLog})`);
  const brokers = `127.0.0.1:${process.env.KAFKA_PORT ?? '19092'}`;
  await step(
    async () => {
      if ((await run(kafka, ['status'], 'kafka')) === 0) return false;
      say('starting Kafka (the first run fetches it from Maven Central)...');
      if ((await run(kafka, ['start'], 'kafka')) !== 0) throw new Error('Kafka did not start (see above)');
      return true;
    },
    {
      name: 'kafka',
      stop: async (startedHere) => {
        if (startedHere && (await run(kafka, ['stop'], 'kafka')) !== 0) throw new Error('kafka.sh stop failed');
      },
    },
  );
  const pg = await step(() => ensurePostgres({ database: 'warden', log: (l) => say(`postgres: ${l}`) }), {
    name: 'postgres',
    stop: async (handle) => {
      await handle.stop();
      if (handle.embedded) say('postgres: stopped');
    },
  });
  const prefix = process.env.WARDEN_TOPIC_PREFIX ?? 'warden.';
  say(`starting the six services and the HTTP gate (logs in ${logDir})...`);
  const stack = await step(
    () =>
      startStack({
        brokers,
        databaseUrl: pg.url,
        topicPrefix: prefix,
        ports: portsFromEnv(),
        logDir,
        optional: ['gateway'],
      }),
    {
      name: 'services',
      stop: async (s) => {
        const codes: Record<string, number | null | undefined> = await s.stop();
        say(`services stopped: ${s.services.map((name) => `${name}=${codes[name]}`).join(' ')}`);
        if (s.services.some((name) => codes[name] !== 0)) throw new Error('a service did not exit cleanly');
      },
    },
  );
  for (const s of stack.services) say(`${s.padEnd(10)} ${stack.urls[s]}  (/health/ready, /metrics, /openapi)`);
  // The demo agent's client speaks for the agent the demo registers; runDemo closes it when it ends.
  const connect: DemoConnect = (agent, credentials) =>
    WardenClient.connect({ brokers: [brokers], topicPrefix: prefix, clientId: 'demo-agent', agent, credentials });
  say('demo agent running; press Ctrl-C to stop everything');
  try {
    await runDemo(connect, stack.urls, abort.signal, say);
  } catch (error) {
    if (!abort.signal.aborted) {
      say(`demo failed: ${(error as Error).message}`);
      await stop(1, 'demo failed');
    }
  }
}

void main().catch((error: unknown) => {
  if (error instanceof Stopping) return;
  say(`warden failed to start: ${(error as Error).stack ?? error}`);
  void stop(1, 'start-up failed');
});
