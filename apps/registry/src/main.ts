import { serviceMain } from '@warden/platform/nest';
import { readRegistryConfig } from './config';
import { registryService } from './service';

serviceMain({
  name: 'registry',
  title: 'Warden registry',
  description: 'Register agents, change their profile and lifecycle, list them and take the inventory.',
  readConfig: () => readRegistryConfig(),
  build: registryService,
});
