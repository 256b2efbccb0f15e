import { CqrsModule } from '@nestjs/cqrs';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { DynamicModule } from '@nestjs/common';
import { KillSwitchConfig } from './config';
import { EXPIRY_TICK_MS, ExpiryTicker } from './expiry.ticker';
import { KillSwitchesHttpController } from './http/kill-switches.http.controller';
import { RevocationsHttpController } from './http/revocations.http.controller';
import { KILL_SWITCHES, wireKillSwitches } from './kill-switches';
import { KILLSWITCH_CONFIG, killSwitchHandlers } from './kill-switches.cqrs';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { Effects1763700000001 } from './migrations/1763700000001-effects';
import { wireOwnerWebhooks } from './owner-webhooks';
import { wireRunHalts } from './run-halts.processor';

/** The kill-switch service: its runtime and its Nest module, ready for runService. */
export function killSwitchService(config: KillSwitchConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('killswitch', config, {
    schema: 'killswitch',
    migrations: [Init1763700000000, Effects1763700000001],
  });
  const ks = wireKillSwitches(runtime, config);
  wireRunHalts(runtime, ks.switches, ks.context);
  wireOwnerWebhooks(runtime, config);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [KillSwitchesHttpController, RevocationsHttpController],
    providers: [
      { provide: KILL_SWITCHES, useValue: ks },
      { provide: KILLSWITCH_CONFIG, useValue: config },
      { provide: EXPIRY_TICK_MS, useValue: config.expiryTickMs },
      ExpiryTicker,
      ...killSwitchHandlers,
    ],
  });
  return { runtime, module };
}
