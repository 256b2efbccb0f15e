import { configOrExit, startTelemetry } from '@warden/platform';
import { runService } from '@warden/platform/nest';
import { readKillSwitchConfig } from './config';
import { killSwitchService } from './service';

async function main(): Promise<void> {
  const config = configOrExit(() => readKillSwitchConfig());
  startTelemetry('killswitch');
  const { runtime, module } = killSwitchService(config);
  await runService(module, runtime, {
    host: config.httpHost,
    port: config.httpPort,
    title: 'Warden kill switch',
    description: 'Engage, release and list kill switches.',
  });
}

void main().catch((error) => {
  process.stderr.write(`killswitch failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
