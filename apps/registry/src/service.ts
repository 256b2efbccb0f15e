import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { AGENTS, wireAgents } from './agents';
import { agentHandlers } from './agents.cqrs';
import { RegistryConfig } from './config';
import { AgentsHttpController } from './http/agents.http.controller';
import { InventoryHttpController } from './http/inventory.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';

/** The registry service: its runtime and its Nest module, ready for runService. */
export function registryService(config: RegistryConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('registry', config, { schema: 'registry', migrations: [Init1763700000000] });
  const agents = wireAgents(runtime, config.instanceId);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [AgentsHttpController, InventoryHttpController],
    providers: [{ provide: AGENTS, useValue: agents }, ...agentHandlers],
  });
  return { runtime, module };
}
