import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  aclsFor,
  KafkaPort,
  KafkaSecurity,
  KafkajsPort,
  Logger,
  parsePrincipal,
  provisionTopics,
  SERVICE_PRINCIPALS,
} from '@warden/platform';
import { freePorts } from '@warden/platform/testing';
import { SERVICES, Stack, StackOptions, startStack } from '@warden/local-stack';

const run = promisify(execFile);
const KAFKA_SH = join(__dirname, '..', '..', 'deploy', 'local', 'kafka.sh');
const KAFKA_ACLS = join(__dirname, '..', '..', 'dist', 'deploy', 'kafka-acls.js');

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

/** Six services on a broker of their own with the authorizer on, each as its own principal. */
export interface SecuredStack {
  readonly broker: SecureBroker;
  readonly stack: Stack;
  /** TLS/SASL settings of a user of the broker (`admin` is the super user). */
  security(user: string): KafkaSecurity;
  /** A connected port as `user`: what a program holding that principal's password can do. */
  portAs(user: string): Promise<KafkaPort>;
  stop(): Promise<void>;
}

export interface SecuredStackOptions extends Omit<StackOptions, 'brokers' | 'serviceEnv'> {
  /** Users besides the six services -> the principal `kafka-acls` grants them (docs/security.md). */
  readonly principals?: Readonly<Record<string, string>>;
}

/**
 * docs/security.md's provisioning on a broker with SASL users and the StandardAuthorizer: the
 * topics as the super user, every principal's ACLs with `kafka-acls --grant`, then the six
 * services, each with its own user.
 */
export async function startSecuredStack(options: SecuredStackOptions): Promise<SecuredStack> {
  const { principals = {}, ...stackOptions } = options;
  const grants: Record<string, string> = {
    ...Object.fromEntries(SERVICE_PRINCIPALS.map((s) => [s, `service:${s}`])),
    ...principals,
  };
  const broker = await startSecureBroker(Object.keys(grants));
  const ports: KafkaPort[] = [];
  const security = (user: string): KafkaSecurity => ({
    ssl: false,
    sasl: { mechanism: 'plain', username: user, password: broker.passwords[user] },
  });
  const portAs = async (user: string) => {
    const port = new KafkajsPort({
      brokers: broker.brokers,
      clientId: `secured-${user}`,
      logger: new Logger('test', 'error'),
      security: security(user),
    });
    await port.connect();
    ports.push(port);
    return port;
  };
  try {
    // As many partitions as the services are configured with (WARDEN_PARTITIONS, default 6).
    await provisionTopics(await portAs('admin'), options.topicPrefix, 6);
    const adminEnv = {
      ...process.env,
      KAFKA_BROKERS: broker.brokers.join(','),
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'admin',
      KAFKA_SASL_PASSWORD: broker.passwords.admin,
      WARDEN_TOPIC_PREFIX: options.topicPrefix,
    };
    for (const [user, principal] of Object.entries(grants)) {
      const { stdout } = await run(process.execPath, [KAFKA_ACLS, principal, '--grant', user], { env: adminEnv });
      const expected = `granted ${aclsFor(parsePrincipal(principal)).length} ACLs to User:${user}\n`;
      if (stdout !== expected) throw new Error(`kafka-acls ${principal} --grant ${user} printed ${stdout}`);
    }
    const stack = await startStack({
      ...stackOptions,
      brokers: broker.brokers.join(','),
      serviceEnv: Object.fromEntries(
        SERVICES.map((s) => [
          s,
          { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: s, KAFKA_SASL_PASSWORD: broker.passwords[s] },
        ]),
      ),
    });
    return {
      broker,
      stack,
      security,
      portAs,
      stop: async () => {
        for (const p of ports) await p.close().catch(() => undefined);
        await stack.stop();
        await broker.stop();
      },
    };
  } catch (error) {
    for (const p of ports) await p.close().catch(() => undefined);
    await broker.stop();
    throw error;
  }
}
