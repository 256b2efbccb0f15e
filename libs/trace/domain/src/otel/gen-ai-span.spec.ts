import {
  ActionKind,
  create,
  GateDecidedSchema,
  GateRequestedSchema,
  MoneySchema,
  StepFailedSchema,
  Verdict,
} from '@warden/contracts';
import { gateSpan } from './gen-ai-span';

const request = create(GateRequestedSchema, {
  requestId: 'r1',
  tenantId: 'acme',
  agentId: 'bot',
  runId: 'run-1',
  actionKind: ActionKind.TOOL_CALL,
  tool: 'crm',
  action: 'update',
  requestedAtMs: 1_000,
  redactedArguments: { customer: 'c-1' },
});
const decision = (verdict: Verdict) =>
  create(GateDecidedSchema, { requestId: 'r1', decisionId: 'd1', verdict, reason: 'ok', decidedAtMs: 1_004, request });

describe('GenAI span of a gate chain', () => {
  it('carries tool call arguments only when content capture is on', () => {
    const chain = { request, traceparent: undefined, decision: decision(Verdict.ALLOW) };
    expect(gateSpan(chain, { captureContent: false }).attributes).not.toHaveProperty('gen_ai.tool.call.arguments');
    expect(gateSpan(chain, { captureContent: true }).attributes['gen_ai.tool.call.arguments']).toBe(
      '{"customer":"c-1"}',
    );
  });

  it('ends at a failed outcome with an error status, and says when the outcome never came', () => {
    const failed = create(StepFailedSchema, {
      requestId: 'r1',
      error: 'timeout',
      retryable: true,
      failedAtMs: 1_050,
      actualTokens: 3,
      actualCost: create(MoneySchema, { currency: 'EUR', micros: 9 }),
    });
    const spec = gateSpan(
      { request, traceparent: undefined, decision: decision(Verdict.ALLOW), outcome: failed },
      { captureContent: false },
    );
    expect(spec).toMatchObject({
      name: 'execute_tool crm',
      startMs: 1_000,
      endMs: 1_050,
      status: { code: 'error', message: 'timeout' },
      attributes: {
        'error.type': 'warden.step_failed_retryable',
        'warden.outcome.status': 'failed',
        'warden.cost.currency': 'EUR',
      },
    });
    expect(spec.events.map((e) => e.name)).toEqual([
      'warden.gate.requested',
      'warden.gate.decided',
      'warden.step.failed',
    ]);
    const missing = gateSpan(
      { request, traceparent: undefined, decision: decision(Verdict.ALLOW), outcomeMissing: true },
      { captureContent: false },
    );
    expect(missing).toMatchObject({ endMs: 1_004, attributes: { 'warden.outcome.status': 'unknown' } });
  });

  it('names memory writes and plain steps', () => {
    const write = { ...request, actionKind: ActionKind.MEMORY_WRITE, memoryStore: 'notes' };
    const step = { ...request, actionKind: ActionKind.STEP, tool: '', action: 'plan' };
    const span = (r: typeof request) =>
      gateSpan({ request: r, traceparent: undefined, decision: decision(Verdict.EXPIRED) }, { captureContent: false });
    expect(span(write).name).toBe('warden.memory_write notes');
    expect(span(step)).toMatchObject({ name: 'invoke_workflow plan', attributes: { 'error.type': 'warden.expired' } });
  });
});
