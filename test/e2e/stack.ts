import { join } from 'node:path';
import { freePorts, freshDatabase, kafkaBrokers, uniquePrefix } from '@warden/platform/testing';
import { OptionalService, SERVICES, Stack, startStack } from '@warden/local-stack';

/** The six services as processes on the test broker, with a topic prefix, a database and ports of their own. */
export interface TestStack {
  readonly stack: Stack;
  readonly prefix: string;
  readonly databaseUrl: string;
  /** Stops the services and drops the database. */
  stop(): Promise<void>;
}

export async function startTestStack(
  name: string,
  options: { optional?: readonly OptionalService[]; env?: Record<string, string> } = {},
): Promise<TestStack> {
  const prefix = uniquePrefix(name);
  const db = await freshDatabase(name.replace(/-/g, '_'));
  const services = [...SERVICES, ...(options.optional ?? [])];
  const ports = await freePorts(services.length);
  const stack = await startStack({
    brokers: kafkaBrokers().join(','),
    databaseUrl: db.url,
    topicPrefix: prefix,
    optional: options.optional,
    env: options.env,
    ports: Object.fromEntries(services.map((s, i) => [s, ports[i]])),
    logDir: join(__dirname, '..', '..', '.warden', 'e2e-logs', prefix),
  });
  return {
    stack,
    prefix,
    databaseUrl: db.url,
    stop: async () => {
      await stack.stop();
      await db.drop();
    },
  };
}
