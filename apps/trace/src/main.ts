import { serviceMain } from '@warden/platform/nest';
import { verifyCommand } from './cli';
import { readTraceConfig } from './config';
import { traceService } from './service';

if (process.argv[2] === 'verify') {
  verifyCommand(process.argv.slice(3)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`trace verify failed: ${(error as Error).stack ?? error}\n`);
      process.exit(1);
    },
  );
} else {
  serviceMain({
    name: 'trace',
    title: 'Warden trace',
    description:
      'The trace fabric: the decision context of every gate request and run projected from Kafka, GenAI ' +
      'OpenTelemetry spans, replay and verification, the tamper-evident audit chain, holds and retention.',
    readConfig: () => readTraceConfig(),
    build: (config) => traceService(config),
  });
}
