import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface TraceConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** Runs last active longer ago than this are purged from the projections (0 keeps everything). */
  readonly retentionDays: number;
  readonly retentionIntervalMs: number;
  /** GenAI spans: `auto` exports them when an OTel traces exporter is configured. */
  readonly otelExport: 'auto' | 'on' | 'off';
  /** Content attributes (tool call arguments) on the GenAI spans; off by default. */
  readonly captureContent: boolean;
  /** A bulk rebuild writes what it folded once this many rows are in memory. */
  readonly rebuildMaxRows: number;
}

export const readTraceConfig = (source = process.env): TraceConfig => {
  const c = readConfig(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('TRACE_HTTP_PORT', 7105),
      retentionDays: env.int('TRACE_RETENTION_DAYS', 0, { min: 0, max: 36_500 }),
      retentionIntervalMs: env.int('TRACE_RETENTION_INTERVAL_MS', 3_600_000, { min: 1_000, max: 86_400_000 }),
      rebuildMaxRows: env.int('TRACE_REBUILD_MAX_ROWS', 200_000, { min: 1, max: 10_000_000 }),
      otelExport: env.oneOf('TRACE_OTEL_EXPORT', ['auto', 'on', 'off'] as const, 'auto'),
      captureContent: env.oneOf(
        'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT',
        ['true', 'false', '1', '0'] as const,
        'false',
      ),
    },
    source,
  );
  return { ...c, captureContent: c.captureContent === 'true' || c.captureContent === '1' };
};

/** Whether GenAI spans go anywhere: an OTLP endpoint or a traces exporter other than `none`. */
export function otelExportEnabled(config: TraceConfig, source = process.env): boolean {
  if (config.otelExport !== 'auto') return config.otelExport === 'on';
  const exporter = source.OTEL_TRACES_EXPORTER;
  if (exporter) return exporter !== 'none';
  return Boolean(source.OTEL_EXPORTER_OTLP_ENDPOINT || source.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}
