import { configOrExit, startTelemetry } from '@warden/platform';
import { runService } from '@warden/platform/nest';
import { readTraceConfig } from './config';
import { traceService } from './service';

async function main(): Promise<void> {
  const config = configOrExit(() => readTraceConfig());
  startTelemetry('trace');
  const { runtime, module } = traceService(config);
  await runService(module, runtime, {
    host: config.httpHost,
    port: config.httpPort,
    title: 'Warden trace',
    description: 'The decision context of every gate request and run, projected from Kafka.',
  });
}

void main().catch((error) => {
  process.stderr.write(`trace failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
