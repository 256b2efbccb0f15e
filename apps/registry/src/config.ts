import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface RegistryConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** Seals the private signing keys on registry.events (ADR 0009): 32 bytes, base64. */
  readonly keyEncryptionKey: string;
  /** How long an agent token lives. */
  readonly agentTokenTtlSeconds: number;
  /** The longest a delegation grant may last. */
  readonly grantMaxLifetimeSeconds: number;
}

export const readRegistryConfig = (source = process.env): RegistryConfig =>
  readConfig<RegistryConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('REGISTRY_HTTP_PORT', 7101),
      keyEncryptionKey: env.base64Key('WARDEN_KEY_ENCRYPTION_KEY', 32),
      agentTokenTtlSeconds: env.int('REGISTRY_AGENT_TOKEN_TTL_SECONDS', 300, { min: 10, max: 3600 }),
      grantMaxLifetimeSeconds: env.int('REGISTRY_GRANT_MAX_LIFETIME_SECONDS', 30 * 86_400, { min: 60 }),
    },
    source,
  );
