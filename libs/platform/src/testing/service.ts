import { DynamicModule, INestApplication } from '@nestjs/common';
import { httpPort, runService } from '../nest/bootstrap';
import { ServiceRuntime } from '../runtime/service-runtime';
import { DEV_KEY_ENCRYPTION_KEY, devAuthEnv } from '../auth/dev-issuer';
import { kafkaBrokers } from './infra';

export interface InProcessService {
  readonly app: INestApplication;
  readonly runtime: ServiceRuntime;
  /** http://127.0.0.1:<free port> */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Boots a service in the test process exactly as its main does (same config reader, same
 * build), on a free port, against the test broker. `env` adds or overrides variables.
 */
export async function startInProcess<C>(
  readConfig: (env: Record<string, string | undefined>) => C,
  build: (config: C) => { runtime: ServiceRuntime; module: DynamicModule },
  env: Record<string, string>,
): Promise<InProcessService> {
  const config = readConfig({
    KAFKA_BROKERS: kafkaBrokers().join(','),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    ...devAuthEnv(),
    // Services that sign or verify authority events need a KEK (docs/adr/0118); fixtures sign with it.
    WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
    ...env,
  });
  const { runtime, module } = build(config);
  const app = await runService(module, runtime, {
    host: '127.0.0.1',
    port: 0,
    title: 'test',
    description: 'test',
    handleSignals: false,
  });
  return { app, runtime, url: `http://127.0.0.1:${httpPort(app)}`, close: () => app.close() };
}
