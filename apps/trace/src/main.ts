import { serviceMain } from '@warden/platform/nest';
import { readTraceConfig } from './config';
import { traceService } from './service';

serviceMain({
  name: 'trace',
  title: 'Warden trace',
  description: 'The decision context of every gate request and run, projected from Kafka.',
  readConfig: () => readTraceConfig(),
  build: traceService,
});
