import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface PolicyConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
}

export const readPolicyConfig = (source = process.env): PolicyConfig =>
  readConfig<PolicyConfig>(
    { ...platformSchema, httpHost: env.string('HTTP_HOST', '127.0.0.1'), httpPort: env.port('POLICY_HTTP_PORT', 7102) },
    source,
  );
