import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface RegistryConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
}

export const readRegistryConfig = (source = process.env): RegistryConfig =>
  readConfig<RegistryConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('REGISTRY_HTTP_PORT', 7101),
    },
    source,
  );
