import { otelExportEnabled, readTraceConfig } from './config';

describe('trace configuration', () => {
  const base = { KAFKA_BROKERS: '127.0.0.1:19092', DATABASE_URL: 'postgres://x/y' };

  it('reads retention and the GenAI export settings, content capture off by default', () => {
    expect(readTraceConfig(base)).toMatchObject({ retentionDays: 0, otelExport: 'auto', captureContent: false });
    expect(
      readTraceConfig({
        ...base,
        TRACE_RETENTION_DAYS: '30',
        TRACE_RETENTION_INTERVAL_MS: '60000',
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true',
      }),
    ).toMatchObject({ retentionDays: 30, retentionIntervalMs: 60_000, captureContent: true });
    expect(() => readTraceConfig({ ...base, TRACE_RETENTION_DAYS: '-1' })).toThrow(/TRACE_RETENTION_DAYS/);
  });

  it('exports GenAI spans when the standard OTel variables configure an exporter', () => {
    const config = readTraceConfig(base);
    expect(otelExportEnabled(config, {})).toBe(false);
    expect(otelExportEnabled(config, { OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(otelExportEnabled(config, { OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(otelExportEnabled(config, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(otelExportEnabled({ ...config, otelExport: 'off' }, { OTEL_TRACES_EXPORTER: 'otlp' })).toBe(false);
    expect(otelExportEnabled({ ...config, otelExport: 'on' }, {})).toBe(true);
  });
});
