import { configOrExit, startTelemetry } from '@warden/platform';
import { runService } from '@warden/platform/nest';
import { readApprovalConfig } from './config';
import { approvalService } from './service';

async function main(): Promise<void> {
  const config = configOrExit(() => readApprovalConfig());
  startTelemetry('approval');
  const { runtime, module } = approvalService(config);
  await runService(module, runtime, {
    host: config.httpHost,
    port: config.httpPort,
    title: 'Warden approval',
    description: 'Approval tasks opened for gate requests pending approval: the approver queue.',
  });
}

void main().catch((error) => {
  process.stderr.write(`approval failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
