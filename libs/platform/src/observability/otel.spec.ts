import { startTelemetry } from './otel';
import { currentTraceHeaders, inSpanFromHeaders } from './tracing';

describe('telemetry without an exporter', () => {
  const sdk = startTelemetry('test');
  afterAll(() => sdk.shutdown());

  it('still makes spans: a stage continues the trace with a span of its own', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const inside = inSpanFromHeaders('stage', { traceparent }, {}, () => currentTraceHeaders().traceparent);
    const [, traceId, spanId, flags] = (inside ?? '').split('-');
    expect(traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe('00f067aa0ba902b7');
    expect(flags).toBe('01');
  });
});
