import { NodeSDK } from '@opentelemetry/sdk-node';
import { NoopSpanProcessor, SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry bootstrap. Exporters follow the standard OTEL_* environment variables. With no
 * exporter configured, spans are still made (with a processor that drops them), so every stage
 * continues the agent's trace with a span of its own: the trace context it publishes names that
 * span, not the request's (docs/adr/0070). Metrics are served by prom-client, so OTel metrics are off.
 */
export function startTelemetry(service: string, options: { traceExporter?: SpanExporter } = {}): NodeSDK {
  const env = process.env;
  const exporting =
    options.traceExporter !== undefined ||
    Boolean(env.OTEL_TRACES_EXPORTER || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({
    serviceName: `warden-${service}`,
    traceExporter: options.traceExporter,
    ...(exporting ? {} : { spanProcessors: [new NoopSpanProcessor()] }),
    instrumentations: [],
  });
  sdk.start();
  return sdk;
}
