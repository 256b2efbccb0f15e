import { CqrsModule } from '@nestjs/cqrs';
import { configOrExit, createServiceRuntime, startTelemetry } from '@warden/platform';
import { runService, ServiceModule } from '@warden/platform/nest';
import { readKillSwitchConfig } from './config';
import { KillSwitchesHttpController } from './http/kill-switches.http.controller';
import { KILL_SWITCHES, wireKillSwitches } from './kill-switches';
import { killSwitchHandlers } from './kill-switches.cqrs';
import { Init1763700000000 } from './migrations/1763700000000-init';

async function main(): Promise<void> {
  const config = configOrExit(() => readKillSwitchConfig());
  startTelemetry('killswitch');
  const runtime = createServiceRuntime('killswitch', config, { schema: 'killswitch', migrations: [Init1763700000000] });
  const switches = wireKillSwitches(runtime, config.instanceId);
  await runService(
    ServiceModule.with({
      runtime,
      imports: [CqrsModule.forRoot()],
      controllers: [KillSwitchesHttpController],
      providers: [{ provide: KILL_SWITCHES, useValue: switches }, ...killSwitchHandlers],
    }),
    runtime,
    { host: config.httpHost, port: config.httpPort, title: 'Warden kill switch', description: 'Engage, release and list kill switches.' },
  );
}

void main().catch((error) => {
  process.stderr.write(`killswitch failed to start: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
