import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry bootstrap. Exporters follow the standard OTEL_* environment variables; with no
 * OTLP endpoint configured, traces are not exported (trace context still flows through Kafka
 * headers and into the JSON logs). Metrics are served by prom-client, so OTel metrics are off.
 */
export function startTelemetry(service: string, options: { traceExporter?: SpanExporter } = {}): NodeSDK {
  const env = process.env;
  if (!env.OTEL_TRACES_EXPORTER && !env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
    env.OTEL_TRACES_EXPORTER = 'none';
  }
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({
    serviceName: `warden-${service}`,
    traceExporter: options.traceExporter,
    instrumentations: [],
  });
  sdk.start();
  return sdk;
}
