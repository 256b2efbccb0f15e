import { serviceMain } from '@warden/platform/nest';
import { readGatewayConfig } from './config';
import { gatewayService } from './service';

serviceMain({
  name: 'gateway',
  title: 'Warden HTTP gate',
  description:
    'The gate over HTTP for agents that do not speak Kafka: POST /v1/gate, POST /v1/outcomes, and the OpenID AuthZEN 1.0 ' +
    'Access Evaluation API. Agents authenticate with their DPoP-bound agent tokens; requests carry their own request proofs.',
  readConfig: () => readGatewayConfig(),
  build: gatewayService,
});
