import { configOrExit, startTelemetry } from '@warden/platform';
import { runService } from '@warden/platform/nest';
import { readPolicyConfig } from './config';
import { policyService } from './service';

async function main(): Promise<void> {
  const config = configOrExit(() => readPolicyConfig());
  startTelemetry('policy');
  const { runtime, module } = policyService(config);
  await runService(module, runtime, {
    host: config.httpHost,
    port: config.httpPort,
    title: 'Warden policy',
    description: 'The admission decision: the only writer of gate decisions.',
  });
}

void main().catch((error) => {
  process.stderr.write(`policy failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
