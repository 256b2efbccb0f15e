import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface KillSwitchConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
}

export const readKillSwitchConfig = (source = process.env): KillSwitchConfig =>
  readConfig<KillSwitchConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('KILLSWITCH_HTTP_PORT', 7106),
    },
    source,
  );
