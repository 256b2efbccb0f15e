import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface TraceConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
}

export const readTraceConfig = (source = process.env): TraceConfig =>
  readConfig<TraceConfig>(
    { ...platformSchema, httpHost: env.string('HTTP_HOST', '127.0.0.1'), httpPort: env.port('TRACE_HTTP_PORT', 7105) },
    source,
  );
