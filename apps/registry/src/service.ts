import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { authorityJwks, createServiceRuntime, parseKek, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { AgentTokens } from './agent-tokens';
import { agentHandlers } from './agents.cqrs';
import { RegistryConfig } from './config';
import { AgentsHttpController } from './http/agents.http.controller';
import { AuditHttpController } from './http/audit.http.controller';
import { AuthorityHttpController, GrantsHttpController, REGISTRY_CONFIG } from './http/authority.http.controller';
import { IdentityLinksHttpController } from './http/identity-links.http.controller';
import { InventoryHttpController } from './http/inventory.http.controller';
import { KeysHttpController } from './http/keys.http.controller';
import { TokenHttpController } from './http/token.http.controller';
import { ToolsHttpController } from './http/tools.http.controller';
import { KeyRing } from './keys';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { Identity1763800000000 } from './migrations/1763800000000-identity';
import { IdentityLinks1764000000000 } from './migrations/1764000000000-identity-links';
import { REGISTRY, wireRegistry } from './registry';

/** The registry service: its runtime and its Nest module, ready for runService. */
export function registryService(config: RegistryConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('registry', config, {
    schema: 'registry',
    migrations: [Init1763700000000, Identity1763800000000, IdentityLinks1764000000000],
  });
  const registry = wireRegistry(runtime, config.instanceId);
  // The JWKS also lists the services' authority keys (ADR 0118), current and previous KEKs', so a
  // subscriber outside Warden can verify signed authority events.
  const authorityKeys = authorityJwks(
    [config.keyEncryptionKey, ...config.authority.previousKeyEncryptionKeys].map(parseKek),
  );
  const keys = new KeyRing(registry.keys, config.keyEncryptionKey, authorityKeys);
  runtime.afterStart(() => keys.ensure());
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [
      AgentsHttpController,
      InventoryHttpController,
      ToolsHttpController,
      AuthorityHttpController,
      GrantsHttpController,
      IdentityLinksHttpController,
      KeysHttpController,
      TokenHttpController,
      AuditHttpController,
    ],
    providers: [
      { provide: REGISTRY, useValue: registry },
      { provide: REGISTRY_CONFIG, useValue: config },
      { provide: KeyRing, useValue: keys },
      { provide: AgentTokens, useValue: new AgentTokens(registry, keys, config.agentTokenTtlSeconds) },
      ...agentHandlers,
    ],
  });
  return { runtime, module };
}
