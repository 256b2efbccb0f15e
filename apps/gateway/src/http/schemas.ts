import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

/** OpenAPI schemas of the gateway's bodies and answers (protobuf-JSON names, docs/protocol.md). */
const str = (description?: string): SchemaObject => ({ type: 'string', ...(description ? { description } : {}) });
const num = (description?: string): SchemaObject => ({ type: 'number', ...(description ? { description } : {}) });
const money: SchemaObject = {
  type: 'object',
  required: ['currency', 'micros'],
  properties: { currency: str('ISO 4217'), micros: num() },
};
const ACTION_KINDS = ['step', 'model_call', 'tool_call', 'memory_read', 'memory_write', 'delegation'];

export const PROBLEM: SchemaObject = {
  type: 'object',
  description: 'RFC 9457 problem details (application/problem+json); `field` names the input at fault',
  properties: {
    type: str(),
    title: str(),
    status: num(),
    detail: str(),
    code: str(),
    field: str(),
    instance: str(),
  },
};

export const GATE_REQUEST: SchemaObject = {
  type: 'object',
  description:
    'A GateRequested in protobuf-JSON (docs/protocol.md, Request fields). tenantId and agentId default to the ' +
    "agent token's; agentToken comes from the Authorization header; the request proof is the Warden-Request-Proof " +
    'header or requestProof. Unknown fields are refused, naming them.',
  required: ['requestId', 'runId', 'requestedAtMs', 'deadlineMs', 'actionKind'],
  additionalProperties: false,
  properties: {
    requestId: str('1-128 of A-Z a-z 0-9 . _ : @ -; one request id gets one decision, ever'),
    tenantId: str(),
    agentId: str(),
    runId: str(),
    requestedAtMs: num('ms since the epoch'),
    deadlineMs: num('after requestedAtMs, at most GATE_MAX_DEADLINE_MS after it; the gateway waits until then'),
    actionKind: { type: 'string', enum: ACTION_KINDS },
    tool: str('required for tool_call'),
    action: str('required for tool_call'),
    arguments: { type: 'object', additionalProperties: true, description: 'exactly as the tool will receive them' },
    argumentsDigest: str('optional; sha256: + hex of the RFC 8785 form of arguments'),
    stepId: str('default: the request id'),
    parentStepId: str(),
    attempt: num('default 1'),
    idempotencyKey: str('default <runId>:<stepId>'),
    environment: str(),
    dataClasses: { type: 'array', items: str('public, internal, confidential, pii, pci, phi, secret') },
    estimatedTokens: num(),
    estimatedCost: money,
    onBehalfOf: str(),
    model: str(),
    memoryStore: str(),
    memoryClass: str(),
    delegateToAgentId: str(),
    businessOutcome: str(),
    requestProof: str('the request proof (or the Warden-Request-Proof header)'),
  },
};

export const GATE_ANSWER: SchemaObject = {
  type: 'object',
  required: ['requestId', 'verdict', 'allowed', 'final', 'timedOut', 'reason', 'hints', 'stepId', 'idempotencyKey'],
  properties: {
    requestId: str(),
    verdict: { type: 'string', enum: ['allow', 'deny', 'pending_approval', 'expired', 'already_completed'] },
    allowed: { type: 'boolean', description: 'true only for allow' },
    final: { type: 'boolean', description: 'false only for pending_approval' },
    timedOut: { type: 'boolean', description: 'no decision before the deadline: a deny (fail closed)' },
    reason: str(),
    decisionId: str(),
    decisionToken: str('on allow: the JWT to hand to the tool'),
    tokenExpiresAtMs: num(),
    hints: { type: 'array', items: str() },
    completedByRequestId: str(),
    approvalTaskId: str(),
    approvers: { type: 'array', items: str() },
    stepId: str('as sent, defaults applied: report the outcome with it'),
    idempotencyKey: str('as sent, defaults applied'),
    decision: {
      type: 'object',
      additionalProperties: true,
      description: "the GateDecided in protobuf's canonical JSON (docs/protocol.md, Decisions); absent on a timeout",
    },
  },
};

export const OUTCOME: SchemaObject = {
  type: 'object',
  description:
    'A StepCompleted (status completed) or StepFailed (status failed) in protobuf-JSON, with the outcome proof ' +
    'as outcomeProof or the Warden-Outcome-Proof header (docs/protocol.md, Outcomes).',
  required: ['status', 'requestId', 'runId'],
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: ['completed', 'failed'] },
    requestId: str(),
    tenantId: str(),
    agentId: str(),
    runId: str(),
    stepId: str("the request's, defaults applied"),
    idempotencyKey: str("the request's, defaults applied"),
    actualTokens: num(),
    actualCost: money,
    durationMs: num(),
    resultDigest: str('completed: the digest of the result'),
    completedAtMs: num('completed'),
    error: str('failed'),
    retryable: { type: 'boolean', description: 'failed' },
    failedAtMs: num('failed'),
    outcomeProof: str(),
  },
};

export const OUTCOME_ACCEPTED: SchemaObject = {
  type: 'object',
  required: ['accepted', 'requestId', 'eventId'],
  properties: {
    accepted: { type: 'boolean' },
    requestId: str(),
    eventId: str('the CloudEvents id it was published with'),
  },
};

const entity = (what: string, props: Record<string, SchemaObject>, required: string[]): SchemaObject => ({
  type: 'object',
  description: what,
  required,
  properties: props,
});

export const AUTHZEN_SUBJECT = entity(
  'the agent: type "agent", id = its agent id (the token\'s)',
  {
    type: { type: 'string', enum: ['agent'] },
    id: str(),
    properties: { type: 'object', properties: { tenantId: str() } },
  },
  ['type', 'id'],
);
export const AUTHZEN_ACTION = entity(
  'the action: the tool action (read or write for memory)',
  { name: str(), properties: { type: 'object' } },
  ['name'],
);
export const AUTHZEN_RESOURCE = entity(
  'what is acted on: tool (tool_call), model (model_call), memory (memory_read/write), agent (delegation), step',
  {
    type: { type: 'string', enum: ['tool', 'model', 'memory', 'agent', 'step'] },
    id: str('the tool, model, memory store or agent'),
    properties: { type: 'object', properties: { memoryClass: str('memory only') } },
  },
  ['type', 'id'],
);
export const AUTHZEN_CONTEXT: SchemaObject = {
  type: 'object',
  description:
    'the other fields of the gate request by their protobuf-JSON names: requestId, runId, requestedAtMs, deadlineMs ' +
    '(required), arguments, environment, estimatedTokens, estimatedCost, stepId, attempt, idempotencyKey, ' +
    'dataClasses, onBehalfOf, parentStepId, businessOutcome, model, and requestProof',
  additionalProperties: true,
};

export const AUTHZEN_EVALUATION: SchemaObject = {
  type: 'object',
  required: ['subject', 'action', 'resource', 'context'],
  properties: {
    subject: AUTHZEN_SUBJECT,
    action: AUTHZEN_ACTION,
    resource: AUTHZEN_RESOURCE,
    context: AUTHZEN_CONTEXT,
  },
};

export const AUTHZEN_DECISION: SchemaObject = {
  type: 'object',
  required: ['decision'],
  properties: {
    decision: { type: 'boolean', description: 'true only when the gate allowed the request' },
    context: {
      type: 'object',
      additionalProperties: true,
      description:
        'id (the request id), verdict, final, timedOut, reason_admin {en}, hints, and on allow decisionToken and ' +
        'tokenExpiresAtMs; error {status, code, message, field} for an evaluation that could not be asked',
    },
  },
};

export const AUTHZEN_EVALUATIONS: SchemaObject = {
  type: 'object',
  properties: {
    subject: AUTHZEN_SUBJECT,
    action: AUTHZEN_ACTION,
    resource: AUTHZEN_RESOURCE,
    context: AUTHZEN_CONTEXT,
    evaluations: {
      type: 'array',
      description: "each one's subject, action, resource or context replaces the top-level one",
      items: {
        type: 'object',
        properties: {
          subject: AUTHZEN_SUBJECT,
          action: AUTHZEN_ACTION,
          resource: AUTHZEN_RESOURCE,
          context: AUTHZEN_CONTEXT,
        },
      },
    },
    options: {
      type: 'object',
      properties: {
        evaluations_semantic: { type: 'string', enum: ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'] },
      },
    },
  },
};

export const AUTHZEN_EVALUATIONS_ANSWER: SchemaObject = {
  type: 'object',
  required: ['evaluations'],
  properties: {
    evaluations: {
      type: 'array',
      items: AUTHZEN_DECISION,
      description: 'in request order; shorter when deny_on_first_deny or permit_on_first_permit stopped early',
    },
  },
};
