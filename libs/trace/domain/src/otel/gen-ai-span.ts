import {
  ActionKind,
  GateDecided,
  GateRequested,
  RiskClass,
  StepCompleted,
  StepFailed,
  Verdict,
} from '@warden/contracts';
import { verdictName } from '../verdicts';

export type AttributeValue = string | number | boolean | readonly string[];
export type Attributes = Readonly<Record<string, AttributeValue>>;

/**
 * One gated action as an OpenTelemetry span following the GenAI semantic conventions, plus
 * Warden's decision attributes (docs/adr/0060). Plain data: the trace service hands it to the
 * OTel SDK; this library imports no OTel package.
 */
export interface SpanSpec {
  readonly name: string;
  readonly kind: 'internal' | 'client';
  /** The agent's W3C trace context when it asked: the span's parent. */
  readonly traceparent: string | undefined;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Attributes;
  readonly events: readonly { readonly name: string; readonly timeMs: number; readonly attributes: Attributes }[];
  readonly status: { readonly code: 'unset' | 'ok' | 'error'; readonly message?: string };
}

export interface GateChain {
  readonly request: GateRequested;
  readonly traceparent: string | undefined;
  /** The final decision. */
  readonly decision: GateDecided;
  /** What the agent reported, if it did. */
  readonly outcome?: StepCompleted | StepFailed;
  /** True when an allowed request's outcome was waited for in vain. */
  readonly outcomeMissing?: boolean;
}

/** GenAI operation per action kind: memory reads are retrievals, memory writes have no GenAI operation yet. */
const OPERATIONS: Record<ActionKind, string> = {
  [ActionKind.UNSPECIFIED]: 'invoke_workflow',
  [ActionKind.STEP]: 'invoke_workflow',
  [ActionKind.MODEL_CALL]: 'chat',
  [ActionKind.TOOL_CALL]: 'execute_tool',
  [ActionKind.MEMORY_READ]: 'retrieval',
  [ActionKind.MEMORY_WRITE]: 'warden.memory_write',
  [ActionKind.DELEGATION]: 'invoke_agent',
};

/** The span of one gate request's chain: from the request to its outcome (or to the decision when not allowed). */
export function gateSpan(chain: GateChain, options: { readonly captureContent: boolean }): SpanSpec {
  const { request: r, decision: d, outcome } = chain;
  const operation = OPERATIONS[r.actionKind] ?? 'invoke_workflow';
  const target = spanTarget(operation, r);
  const ctx = d.context;
  const attributes: Record<string, AttributeValue> = {
    'gen_ai.operation.name': operation,
    'gen_ai.agent.id': r.agentId,
    'gen_ai.conversation.id': r.runId,
    'warden.tenant.id': r.tenantId,
    'warden.run.id': r.runId,
    'warden.request.id': r.requestId,
    'warden.action.kind': (ActionKind[r.actionKind] ?? 'unknown').toLowerCase(),
    'warden.decision.id': d.decisionId,
    'warden.decision.verdict': verdictName(d.verdict),
    'warden.decision.reason': d.reason,
    'warden.decision.latency_ms': d.decidedAtMs - r.requestedAtMs,
    'warden.policy.ids': (ctx?.evaluations ?? []).map((e) => e.policyId),
    'warden.policy.versions': (ctx?.evaluations ?? []).map((e) => e.version),
    'warden.policy.results': (ctx?.evaluations ?? []).map((e) => e.result),
    'warden.policy.bundle_version': ctx?.versions?.policyBundleVersion ?? '',
    'warden.risk.score': ctx?.riskScore ?? 0,
    'warden.risk.class': (RiskClass[ctx?.riskClass ?? RiskClass.UNSPECIFIED] ?? 'unspecified').toLowerCase(),
    'warden.budget.granted': ctx?.reservation?.granted ?? false,
  };
  const put = (key: string, value: AttributeValue | undefined | null) => {
    if (value !== undefined && value !== null && value !== '') attributes[key] = value;
  };
  put('gen_ai.agent.name', operation === 'invoke_agent' ? r.delegateToAgentId : undefined);
  put('gen_ai.tool.name', operation === 'execute_tool' ? r.tool : undefined);
  put('gen_ai.tool.call.id', operation === 'execute_tool' ? r.stepId || r.requestId : undefined);
  put('gen_ai.request.model', r.model);
  put('gen_ai.data_source.id', r.memoryStore);
  put('warden.step.id', r.stepId);
  put('warden.action', r.action);
  put('warden.delegate.agent.id', r.delegateToAgentId);
  put('warden.budget.reservation_id', ctx?.reservation?.reservationId);
  put('warden.budget.reserved_tokens', ctx?.reservation?.reservedTokens || undefined);
  put('warden.budget.reason', ctx?.reservation?.reason);
  put('warden.approval.task_id', ctx?.approval?.taskId);
  put('warden.approval.approved_by', ctx?.approval?.approvedBy);
  if ((ctx?.killSwitchIds.length ?? 0) > 0) attributes['warden.kill_switch.ids'] = ctx!.killSwitchIds;
  if (options.captureContent && r.redactedArguments) {
    attributes['gen_ai.tool.call.arguments'] = JSON.stringify(r.redactedArguments);
  }

  const events: SpanSpec['events'][number][] = [
    { name: 'warden.gate.requested', timeMs: r.requestedAtMs, attributes: { 'warden.request.id': r.requestId } },
  ];
  if (ctx?.approval?.resolvedAtMs) {
    events.push({
      name: 'warden.approval.resolved',
      timeMs: ctx.approval.resolvedAtMs,
      attributes: { 'warden.approval.approved_by': ctx.approval.approvedBy },
    });
  }
  events.push({
    name: 'warden.gate.decided',
    timeMs: d.decidedAtMs,
    attributes: { 'warden.decision.verdict': verdictName(d.verdict) },
  });

  let endMs = d.decidedAtMs;
  let status: SpanSpec['status'] = { code: 'unset' };
  if (d.verdict !== Verdict.ALLOW) {
    status = { code: 'error', message: d.reason };
    attributes['error.type'] = `warden.${verdictName(d.verdict)}`;
  } else if (outcome) {
    const failed = outcome.$typeName === 'warden.gate.v1.StepFailed';
    endMs = failed ? outcome.failedAtMs : outcome.completedAtMs;
    attributes['warden.outcome.status'] = failed ? 'failed' : 'completed';
    attributes['warden.usage.actual_tokens'] = outcome.actualTokens;
    put('warden.cost.micros', outcome.actualCost?.micros);
    put('warden.cost.currency', outcome.actualCost?.currency);
    events.push({ name: failed ? 'warden.step.failed' : 'warden.step.completed', timeMs: endMs, attributes: {} });
    if (failed) {
      status = { code: 'error', message: outcome.error };
      attributes['error.type'] = outcome.retryable ? 'warden.step_failed_retryable' : 'warden.step_failed';
    }
  } else if (chain.outcomeMissing) {
    attributes['warden.outcome.status'] = 'unknown';
  }
  return {
    name: target ? `${operation} ${target}` : operation,
    kind: operation === 'chat' ? 'client' : 'internal',
    traceparent: chain.traceparent,
    startMs: r.requestedAtMs || d.decidedAtMs,
    endMs: Math.max(endMs || d.decidedAtMs, r.requestedAtMs || 0),
    attributes,
    events,
    status,
  };
}

/** The span name's target, per the GenAI conventions (`execute_tool {tool}`, `chat {model}`, ...). */
function spanTarget(operation: string, r: GateRequested): string {
  switch (operation) {
    case 'execute_tool':
      return r.tool;
    case 'chat':
      return r.model;
    case 'invoke_agent':
      return r.delegateToAgentId;
    case 'retrieval':
    case 'warden.memory_write':
      return r.memoryStore;
    default:
      return r.action || r.stepId;
  }
}
