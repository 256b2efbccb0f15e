import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { WardenClient } from '@warden/sdk';
import { DemoConnect, runDemo } from './demo/agent';
import { ensurePostgres } from './local/postgres';
import { SERVICES, startStack } from './local/stack';

/**
 * `npm start`: fetches and starts the Kafka broker, finds or starts Postgres, starts the six
 * services as separate processes, runs a demo agent whose decisions print here, and stops it
 * all cleanly on Ctrl-C.
 */
const root = resolve(__dirname, '..', '..');
const kafka = join(root, 'deploy', 'local', 'kafka.sh');
const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 23)}  ${line}\n`);

async function main(): Promise<void> {
  let startedKafka = false;
  try {
    execFileSync(kafka, ['status'], { stdio: 'ignore' });
  } catch {
    say('starting Kafka (the first run fetches it from Maven Central)...');
    execFileSync(kafka, ['start'], { stdio: 'inherit' });
    startedKafka = true;
  }
  const brokers = `127.0.0.1:${process.env.KAFKA_PORT ?? '19092'}`;
  const pg = await ensurePostgres({ database: 'warden', log: (l) => say(`postgres: ${l}`) });
  const prefix = process.env.WARDEN_TOPIC_PREFIX ?? 'warden.';
  const logDir = join(root, '.warden', 'logs');
  say(`starting ${SERVICES.join(', ')} (logs in ${logDir})...`);
  // The registry seals its signing keys with this KEK and policy opens the decision-token key with it.
  const kek = randomBytes(32);
  const stack = await startStack({
    brokers,
    databaseUrl: pg.url,
    topicPrefix: prefix,
    logDir,
    env: { WARDEN_KEY_ENCRYPTION_KEY: kek.toString('base64') },
  });
  for (const s of SERVICES) say(`${s.padEnd(10)} ${stack.urls[s]}  (/health/ready, /metrics, /openapi)`);
  const connect: DemoConnect = (agent, credentials) =>
    WardenClient.connect({ brokers: [brokers], topicPrefix: prefix, clientId: 'demo-agent', agent, credentials });
  const abort = new AbortController();

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    abort.abort();
    say('stopping...');
    const codes = await stack.stop();
    say(`services stopped: ${SERVICES.map((s) => `${s}=${codes[s]}`).join(' ')}`);
    await pg.stop();
    if (startedKafka) execFileSync(kafka, ['stop'], { stdio: 'inherit' });
    say('bye');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  say('demo agent running; press Ctrl-C to stop everything');
  try {
    await runDemo(connect, stack.urls, abort.signal, say);
  } catch (error) {
    if (!abort.signal.aborted) {
      say(`demo failed: ${(error as Error).message}`);
      await stop(1);
    }
  }
}

void main().catch((error) => {
  process.stderr.write(`warden failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
