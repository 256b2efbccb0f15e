import { CqrsModule } from '@nestjs/cqrs';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { DynamicModule } from '@nestjs/common';
import { KillSwitchConfig } from './config';
import { KillSwitchesHttpController } from './http/kill-switches.http.controller';
import { KILL_SWITCHES, wireKillSwitches } from './kill-switches';
import { killSwitchHandlers } from './kill-switches.cqrs';
import { Init1763700000000 } from './migrations/1763700000000-init';

/** The kill-switch service: its runtime and its Nest module, ready for runService. */
export function killSwitchService(config: KillSwitchConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('killswitch', config, { schema: 'killswitch', migrations: [Init1763700000000] });
  const switches = wireKillSwitches(runtime, config.instanceId);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [KillSwitchesHttpController],
    providers: [{ provide: KILL_SWITCHES, useValue: switches }, ...killSwitchHandlers],
  });
  return { runtime, module };
}
