import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from '@warden/platform/testing';

const run = promisify(execFile);
const KAFKA_SH = join(__dirname, '..', '..', 'deploy', 'local', 'kafka.sh');

/** A broker of the test's own with SASL/PLAIN and the StandardAuthorizer on (deploy/local/kafka.sh). */
export interface SecureBroker {
  readonly brokers: string[];
  /** Each user's password; `admin` is the super user. */
  readonly passwords: Readonly<Record<string, string>>;
  /** Stops the broker and deletes its data. */
  stop(): Promise<void>;
}

export async function startSecureBroker(users: readonly string[]): Promise<SecureBroker> {
  const [port, controllerPort] = await freePorts(2);
  const passwords = Object.fromEntries(['admin', ...users].map((u) => [u, randomBytes(12).toString('hex')]));
  const env = {
    ...process.env,
    KAFKA_INSTANCE: `secure-${port}`,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    KAFKA_SASL_USERS: Object.entries(passwords)
      .map(([u, p]) => `${u}:${p}`)
      .join(','),
    KAFKA_HEAP_OPTS: '-Xms128m -Xmx512m',
  };
  await run('bash', [KAFKA_SH, 'start'], { env, timeout: 240_000 });
  return {
    brokers: [`127.0.0.1:${port}`],
    passwords,
    stop: async () => {
      await run('bash', [KAFKA_SH, 'reset'], { env, timeout: 60_000 });
    },
  };
}
