import { DynamicModule } from '@nestjs/common';
import { startTelemetry } from '../observability/otel';
import { configOrExit } from '../runtime/create';
import { ServiceRuntime } from '../runtime/service-runtime';
import { runService } from './bootstrap';

type ServiceConfig = { readonly httpHost: string; readonly httpPort: number; readonly stopOnStdinEnd: boolean };

export interface ServiceEntry<C extends ServiceConfig> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readConfig(): C;
  build(config: C): { runtime: ServiceRuntime; module: DynamicModule };
}

/**
 * A service's `main`: `node main.js` (or `serve`) runs it; `node main.js migrate` applies its
 * database migrations and exits. Configuration is validated first in both cases.
 */
export function serviceMain<C extends ServiceConfig>(entry: ServiceEntry<C>): void {
  const command = process.argv[2] ?? 'serve';
  const run = async () => {
    if (command !== 'serve' && command !== 'migrate') {
      process.stderr.write(`usage: ${entry.name} [serve|migrate]\n`);
      process.exit(64);
    }
    const config = configOrExit(() => entry.readConfig());
    if (command === 'migrate') {
      const { runtime } = entry.build(config);
      const applied = await runtime.migrate();
      process.stdout.write(
        `${entry.name}: ${applied.length ? `applied ${applied.join(', ')}` : 'schema up to date'}\n`,
      );
      process.exit(0);
    }
    startTelemetry(entry.name);
    const { runtime, module } = entry.build(config);
    await runService(module, runtime, {
      host: config.httpHost,
      port: config.httpPort,
      stopOnStdinEnd: config.stopOnStdinEnd,
      title: entry.title,
      description: entry.description,
    });
  };
  run().catch((error) => {
    process.stderr.write(`${entry.name} failed to ${command}: ${(error as Error).stack ?? error}\n`);
    process.exit(1);
  });
}
