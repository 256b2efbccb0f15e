import { serviceMain } from '@warden/platform/nest';
import { readPolicyConfig } from './config';
import { policyService } from './service';

serviceMain({
  name: 'policy',
  title: 'Warden policy',
  description: 'The admission decision: the only writer of gate decisions.',
  readConfig: () => readPolicyConfig(),
  build: policyService,
});
