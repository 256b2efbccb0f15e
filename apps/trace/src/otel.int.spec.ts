import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ActionKind, GateDecided, Topic } from '@warden/contracts';
import { eventually } from '@warden/platform/testing';
import { gateChain, GateEvent, TraceHarness } from './testing/trace.harness';

/** GenAI spans, checked with an in-memory exporter: names, attributes, events and parent links. */
describe('GenAI OpenTelemetry export (real Kafka and Postgres)', () => {
  let trace: TraceHarness;
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const run = { tenantId: 'acme', agentId: 'support-bot', runId: 'run-otel' };
  const t = Date.UTC(2025, 5, 1);
  const agentTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const agentSpan = (n: number) => `00f067aa0ba902b${n}`;
  const traceparent = (n: number) => `00-${agentTrace}-${agentSpan(n)}-01`;

  const spans = () => exporter.getFinishedSpans();
  const span = (requestId: string): ReadableSpan =>
    spans().find((s) => s.attributes['warden.request.id'] === requestId)!;

  const chains: Record<string, GateEvent[]> = {
    'req-tool': gateChain(run, 'req-tool', t, 'allow', { redactedArguments: { ticket: 42 } }, traceparent(1)),
    'req-deny': gateChain(run, 'req-deny', t + 10, 'deny', {}, traceparent(2)),
    'req-chat': gateChain(
      run,
      'req-chat',
      t + 20,
      'approved',
      { actionKind: ActionKind.MODEL_CALL, model: 'gpt-4o' },
      traceparent(3),
    ),
    'req-delegate': gateChain(run, 'req-delegate', t + 30, 'allow', {
      actionKind: ActionKind.DELEGATION,
      delegateToAgentId: 'billing-bot',
    }),
    'req-memory': gateChain(run, 'req-memory', t + 40, 'refused', {
      actionKind: ActionKind.MEMORY_READ,
      memoryStore: 'crm',
    }),
  };
  /** The span ids of a chain's decisions as policy published them (its stage's spans, in the agent's trace). */
  const decisionSpans = (requestId: string, final: boolean) =>
    chains[requestId]
      .filter((e) => e.topic === Topic.gateDecisions && (e.data as GateDecided).final === final)
      .map((e) => e.traceparent!.split('-')[2]);

  beforeAll(async () => {
    trace = await TraceHarness.start('trace-otel', { tracer: provider.getTracer('warden-trace') });
    await trace.publish(Object.values(chains).flat());
    await eventually(() => spans().length >= 5, 30_000, 'five spans');
  });
  afterAll(async () => {
    await trace.stop();
    await provider.shutdown();
  });

  it('exports one span per gated action, named and attributed per the GenAI conventions', () => {
    expect(
      spans()
        .map((s) => s.name)
        .sort(),
    ).toEqual([
      'chat gpt-4o',
      'execute_tool tickets',
      'execute_tool tickets',
      'invoke_agent billing-bot',
      'retrieval crm',
    ]);
    const tool = span('req-tool');
    expect(tool.kind).toBe(SpanKind.INTERNAL);
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'tickets',
      'gen_ai.tool.call.id': 'step-req-tool',
      'gen_ai.agent.id': 'support-bot',
      'gen_ai.conversation.id': 'run-otel',
      'warden.tenant.id': 'acme',
      'warden.decision.verdict': 'allow',
      'warden.decision.latency_ms': 2,
      'warden.policy.ids': ['warden.registry'],
      'warden.policy.versions': ['builtin-2'],
      'warden.policy.bundle_version': 'builtin-2',
      'warden.risk.score': 10,
      'warden.risk.class': 'low',
      'warden.budget.granted': true,
      'warden.budget.reserved_tokens': 10,
      'warden.outcome.status': 'completed',
      'warden.usage.actual_tokens': 7,
      'warden.cost.micros': 1500,
    });
    // Content attributes are off by default.
    expect(tool.attributes).not.toHaveProperty('gen_ai.tool.call.arguments');
    expect(tool.events.map((e) => e.name)).toEqual([
      'warden.gate.requested',
      'warden.gate.decided',
      'warden.step.completed',
    ]);
    // From the request to the outcome, on the events' own clock.
    expect(tool.startTime).toEqual([Math.floor(t / 1000), (t % 1000) * 1e6]);
    expect(tool.endTime).toEqual([Math.floor((t + 4) / 1000), ((t + 4) % 1000) * 1e6]);
    expect(tool.status.code).toBe(SpanStatusCode.UNSET);

    expect(span('req-chat')).toMatchObject({
      kind: SpanKind.CLIENT,
      attributes: expect.objectContaining({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' }),
    });
    expect(span('req-delegate').attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'billing-bot',
    });
    expect(span('req-memory').attributes).toMatchObject({
      'gen_ai.operation.name': 'retrieval',
      'gen_ai.data_source.id': 'crm',
      'warden.budget.granted': false,
    });
  });

  it('marks actions Warden did not allow as errors, with the decision as the reason', () => {
    const denied = span('req-deny');
    expect(denied.status).toEqual({ code: SpanStatusCode.ERROR, message: 'deny' });
    expect(denied.attributes).toMatchObject({ 'error.type': 'warden.deny', 'warden.decision.verdict': 'deny' });
    expect(denied.attributes).not.toHaveProperty('warden.outcome.status');
  });

  it("links each span into the agent's own trace, under the policy stage's span of its final decision", () => {
    for (const [id, n] of [
      ['req-tool', 1],
      ['req-deny', 2],
      ['req-chat', 3],
    ] as const) {
      const s = span(id);
      expect(s.spanContext().traceId).toBe(agentTrace);
      const [final] = decisionSpans(id, true);
      expect(final).not.toBe(agentSpan(n));
      expect(s.parentSpanContext?.spanId).toBe(final);
    }
    // Not the pending decision's span: the approval resolved, the final decision tells the story.
    expect(decisionSpans('req-chat', false)).toHaveLength(1);
    expect(decisionSpans('req-chat', false)).not.toContain(span('req-chat').parentSpanContext?.spanId);
    // Without a traceparent the span starts a trace of its own.
    expect(span('req-delegate').parentSpanContext).toBeUndefined();
    expect(span('req-delegate').spanContext().traceId).not.toBe(agentTrace);
  });

  it('exports each chain once, even when its decision is delivered again', async () => {
    const before = spans().length;
    await trace.publish(gateChain(run, 'req-deny', t + 10, 'deny').filter((e) => e.topic === 'gate.decisions'));
    await trace.publish(gateChain(run, 'req-after', t + 50, 'deny'));
    await eventually(() => spans().some((s) => s.attributes['warden.request.id'] === 'req-after'), 30_000);
    expect(spans().length).toBe(before + 1);
  });
});
