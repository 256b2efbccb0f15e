import { serviceMain } from '@warden/platform/nest';
import { readKillSwitchConfig } from './config';
import { killSwitchService } from './service';

serviceMain({
  name: 'killswitch',
  title: 'Warden kill switch',
  description: 'Engage, release and list kill switches.',
  readConfig: () => readKillSwitchConfig(),
  build: killSwitchService,
});
