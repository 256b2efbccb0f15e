import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BudgetReserved,
  BudgetReservedSchema,
  create,
  GateRequested,
  GateRequestedSchema,
  Topic,
  topicName,
} from '@warden/contracts';
import { Decider } from '@warden/kernel';
import { KafkaPort } from '../kafka/port';
import { Processor } from '../runtime/processor';
import { eventually, provisionedPort, publishEvent, quietLogger, TopicRecorder, uniquePrefix } from '../testing/infra';
import { Logger } from './logger';
import { Metrics } from './metrics';
import { startTelemetry } from './otel';
import { inSpanFromHeaders } from './tracing';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentSpanId = '00f067aa0ba902b7';
const traceparent = `00-${traceId}-${parentSpanId}-01`;

const echo: Decider<GateRequested, null, BudgetReserved> = {
  initialState: null,
  decide: (r) => [create(BudgetReservedSchema, { reservationId: r.requestId, request: r })],
  evolve: (s) => s,
};

describe('trace context through Kafka, spans and logs', () => {
  const exporter = new InMemorySpanExporter();
  let sdk: NodeSDK;
  const prefix = uniquePrefix('tracing');
  let port: KafkaPort;
  let recorder: TopicRecorder;
  let processor: Processor<GateRequested, null, BudgetReserved>;

  beforeAll(async () => {
    sdk = startTelemetry('test', { traceExporter: exporter });
    port = await provisionedPort(prefix, 1);
    recorder = await TopicRecorder.start(port, prefix, [Topic.budgetReservations]);
    processor = new Processor(
      {
        name: 'echo',
        inputs: [Topic.gateRequests],
        outputs: [Topic.budgetReservations],
        decider: echo,
        command: (input) => input.data as GateRequested,
        route: (e) => ({
          topic: Topic.budgetReservations,
          key: e.request!.runId,
          tenantId: 't',
          agentId: 'a',
          runId: e.request!.runId,
        }),
      },
      { port, prefix, service: 'test', logger: quietLogger(), metrics: new Metrics('test'), partitionsConcurrency: 1 },
    );
    await processor.start();
  });
  afterAll(async () => {
    await processor.stop();
    await recorder.stop();
    await port.close();
    await sdk.shutdown();
  });

  it('continues the trace of the input in a consumer span and in the output headers', async () => {
    const r = create(GateRequestedSchema, { requestId: 'req-1', runId: 'run-1' });
    await publishEvent(port, prefix, Topic.gateRequests, 'run-1', r, {
      tenantId: 't',
      agentId: 'a',
      runId: 'run-1',
      traceparent,
    });
    const out = await eventually(() => recorder.on(Topic.budgetReservations)[0]);
    const [, outTrace, outSpan] = out.headers.traceparent.split('-');
    expect(outTrace).toBe(traceId);
    expect(outSpan).not.toBe(parentSpanId);
    // Spans are exported in batches by the SDK's default processor.
    const span = await eventually(
      () => exporter.getFinishedSpans().find((s) => s.name === 'echo process'),
      20_000,
      'the exported span',
    );
    expect(span!.spanContext().traceId).toBe(traceId);
    expect(span!.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(span!.spanContext().spanId).toBe(outSpan);
    expect(span!.attributes['messaging.destination.name']).toBe(topicName(prefix, Topic.gateRequests));
  });

  it('writes the trace and span ids into JSON log lines inside a span', () => {
    const lines: string[] = [];
    const logger = new Logger('test', 'info', {}, (line) => lines.push(line));
    inSpanFromHeaders('work', { traceparent }, {}, () => logger.info('inside'));
    logger.info('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l));
    expect(inside).toMatchObject({ msg: 'inside', level: 'info', service: 'test', trace_id: traceId });
    expect(inside.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(outside.trace_id).toBeUndefined();
  });
});
