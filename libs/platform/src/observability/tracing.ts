import { Context, context, propagation, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * W3C trace context through Kafka headers. The propagator is used directly (not the global
 * one) so trace ids flow through Warden even when no OpenTelemetry SDK is running.
 */
const w3c = new W3CTraceContextPropagator();

const getter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};
const setter = {
  set: (carrier: Record<string, string>, key: string, value: string) => {
    carrier[key] = value;
  },
};

export function extractTraceContext(headers: Record<string, string>): Context {
  return w3c.extract(ROOT_CONTEXT, headers, getter);
}

export function currentTraceHeaders(ctx: Context = context.active()): { traceparent?: string; tracestate?: string } {
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, setter);
  propagation.inject(ctx, carrier, setter);
  return { traceparent: carrier.traceparent, tracestate: carrier.tracestate };
}

const tracer = () => trace.getTracer('warden');

/** Runs `fn` in a span whose parent comes from the given Kafka headers. */
export function inSpanFromHeaders<T>(
  name: string,
  headers: Record<string, string>,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => T,
): T {
  const parent = extractTraceContext(headers);
  return tracer().startActiveSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent, (span) => {
    try {
      const result = fn(span);
      span.end();
      return result;
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      span.end();
      throw error;
    }
  });
}

/** Runs `fn` in a producer span (e.g. an HTTP command publishing events). */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: () => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind: SpanKind.PRODUCER, attributes }, async (span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
