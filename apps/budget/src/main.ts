import { configOrExit, startTelemetry } from '@warden/platform';
import { runService } from '@warden/platform/nest';
import { readBudgetConfig } from './config';
import { budgetService } from './service';

async function main(): Promise<void> {
  const config = configOrExit(() => readBudgetConfig());
  startTelemetry('budget');
  const { runtime, module } = budgetService(config);
  await runService(module, runtime, {
    host: config.httpHost,
    port: config.httpPort,
    title: 'Warden budget',
    description: 'Run budgets: reservations for gate requests, settlements, tenant run limits and run usage.',
  });
}

void main().catch((error) => {
  process.stderr.write(`budget failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
