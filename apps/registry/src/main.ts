import { configOrExit, startTelemetry } from '@warden/platform';
import { runService } from '@warden/platform/nest';
import { readRegistryConfig } from './config';
import { registryService } from './service';

async function main(): Promise<void> {
  const config = configOrExit(() => readRegistryConfig());
  startTelemetry('registry');
  const { runtime, module } = registryService(config);
  await runService(module, runtime, {
    host: config.httpHost,
    port: config.httpPort,
    title: 'Warden registry',
    description: 'Register agents, change their profile and lifecycle, list them and take the inventory.',
  });
}

void main().catch((error) => {
  process.stderr.write(`registry failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
