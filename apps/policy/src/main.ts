import { CqrsModule } from '@nestjs/cqrs';
import { decisionsProjection } from '@warden/policy-read-models';
import { configOrExit, createServiceRuntime, startTelemetry } from '@warden/platform';
import { runService, ServiceModule } from '@warden/platform/nest';
import { readPolicyConfig } from './config';
import { GetDecisionHandler } from './decisions.cqrs';
import { wireGate } from './gate.processor';
import { DecisionsHttpController } from './http/decisions.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';

async function main(): Promise<void> {
  const config = configOrExit(() => readPolicyConfig());
  startTelemetry('policy');
  const runtime = createServiceRuntime('policy', config, { schema: 'policy', migrations: [Init1763700000000] });
  wireGate(runtime, config.instanceId);
  runtime.project(decisionsProjection);
  await runService(
    ServiceModule.with({ runtime, imports: [CqrsModule.forRoot()], controllers: [DecisionsHttpController], providers: [GetDecisionHandler] }),
    runtime,
    { host: config.httpHost, port: config.httpPort, title: 'Warden policy', description: 'The admission decision: the only writer of gate decisions.' },
  );
}

void main().catch((error) => {
  process.stderr.write(`policy failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
