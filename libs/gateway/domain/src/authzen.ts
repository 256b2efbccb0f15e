import { GateRequested, GateRequestedSchema } from '@warden/contracts';
import { DomainError, invalid } from '@warden/kernel';
import { decodeBody, GateAnswer } from './gate-answer';
import { AuthenticatedAgent, prepareGateRequest, RequestRules } from './gate-request';

/**
 * OpenID AuthZEN Authorization API 1.0, Access Evaluation (`POST /access/v1/evaluation`) and
 * Access Evaluations (`POST /access/v1/evaluations`), mapped onto gate requests (ADR 0119, the
 * gateway's README has the table). Pure: parsing, mapping and the batch semantics; the gateway
 * gates each request.
 *
 * - subject `{type: "agent", id: <agent id>, properties?: {tenantId}}`: the agent of the token;
 * - resource `{type, id}`: `tool` (a tool_call of tool `id`), `model` (a model_call of model `id`),
 *   `memory` (a memory_read or memory_write of store `id`, `properties.memoryClass`), `agent` (a
 *   delegation to agent `id`) or `step` (a plain step);
 * - action `{name}`: the tool's action; `read` or `write` for memory;
 * - context: the other fields of the gate request, by their protobuf-JSON names (`requestId`,
 *   `runId`, `requestedAtMs`, `deadlineMs`, `arguments`, `environment`, `estimatedTokens`, ...,
 *   `requestProof`); an unknown member is refused, naming it, as the gate refuses unknown fields.
 */
export interface AuthzenEntity {
  readonly type?: unknown;
  readonly id?: unknown;
  readonly name?: unknown;
  readonly properties?: unknown;
}

export interface AuthzenEvaluation {
  readonly subject?: AuthzenEntity;
  readonly action?: AuthzenEntity;
  readonly resource?: AuthzenEntity;
  readonly context?: Record<string, unknown>;
}

export type EvaluationsSemantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit';

export interface AuthzenBatch {
  readonly defaults: AuthzenEvaluation;
  readonly evaluations: readonly AuthzenEvaluation[];
  readonly semantic: EvaluationsSemantic;
}

export interface AuthzenDecision {
  readonly decision: boolean;
  readonly context: Record<string, unknown>;
}

const SEMANTICS: readonly EvaluationsSemantic[] = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'];
/** Request fields the mapping sets from subject, action and resource: not allowed in context. */
const MAPPED = new Set([
  'tenantId',
  'agentId',
  'actionKind',
  'tool',
  'action',
  'memoryStore',
  'memoryClass',
  'delegateToAgentId',
]);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function object(value: unknown, field: string, required: boolean): Record<string, unknown> | undefined {
  if (value === undefined && !required) return undefined;
  if (!isObject(value))
    throw invalid(value === undefined ? 'missing_field' : 'invalid_value', `${field} must be an object`, field);
  return value;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw invalid('missing_field', `${field} is required (a string)`, field);
  return value;
}

function only(value: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value))
    if (!allowed.includes(key))
      throw invalid('unknown_field', `${field}.${key} is not a member of an AuthZEN ${field}`, `${field}.${key}`);
}

/** The batch request: top-level defaults, each evaluation's subject, action, resource or context replacing them. */
export function parseBatch(body: unknown): AuthzenBatch {
  const b = object(body, 'body', true)!;
  only(b, 'body', ['subject', 'action', 'resource', 'context', 'evaluations', 'options']);
  const options = object(b.options, 'options', false) ?? {};
  only(options, 'options', ['evaluations_semantic']);
  const semantic = (options.evaluations_semantic ?? 'execute_all') as EvaluationsSemantic;
  if (!SEMANTICS.includes(semantic))
    throw invalid(
      'invalid_value',
      `options.evaluations_semantic must be one of ${SEMANTICS.join(', ')}`,
      'options.evaluations_semantic',
    );
  if (b.evaluations !== undefined && !Array.isArray(b.evaluations))
    throw invalid('invalid_value', 'evaluations must be an array', 'evaluations');
  const evaluations = (b.evaluations as unknown[] | undefined) ?? [];
  evaluations.forEach((e, i) => {
    object(e, `evaluations[${i}]`, true);
    only(e as Record<string, unknown>, `evaluations[${i}]`, ['subject', 'action', 'resource', 'context']);
  });
  return {
    defaults: b as AuthzenEvaluation,
    evaluations: evaluations as AuthzenEvaluation[],
    semantic,
  };
}

/** One evaluation of a batch: its own members, else the batch's. */
export function merged(defaults: AuthzenEvaluation, e: AuthzenEvaluation): AuthzenEvaluation {
  return {
    subject: e.subject ?? defaults.subject,
    action: e.action ?? defaults.action,
    resource: e.resource ?? defaults.resource,
    context: e.context ?? defaults.context,
  };
}

/**
 * The gate request an evaluation asks for, in protobuf-JSON, decoded as the gate decodes agent
 * JSON; a problem names the AuthZEN member at fault (`context.deadlineMs`, `resource.type`).
 * `at` prefixes the names (`evaluations[1].`).
 */
export function toGateRequest(e: AuthzenEvaluation, at = ''): GateRequested {
  const subject = object(e.subject, `${at}subject`, true)!;
  const action = object(e.action, `${at}action`, true)!;
  const resource = object(e.resource, `${at}resource`, true)!;
  const context = object(e.context, `${at}context`, false) ?? {};
  only(subject, `${at}subject`, ['type', 'id', 'properties']);
  only(action, `${at}action`, ['name', 'properties']);
  only(resource, `${at}resource`, ['type', 'id', 'properties']);
  if (subject.type !== 'agent')
    throw invalid(
      'invalid_value',
      `${at}subject.type must be "agent": the gate decides for agents`,
      `${at}subject.type`,
    );
  const subjectProps = object(subject.properties, `${at}subject.properties`, false) ?? {};
  only(subjectProps, `${at}subject.properties`, ['tenantId']);
  const resourceProps = object(resource.properties, `${at}resource.properties`, false) ?? {};
  const json: Record<string, unknown> = { agentId: text(subject.id, `${at}subject.id`) };
  if (subjectProps.tenantId !== undefined) json.tenantId = subjectProps.tenantId;
  const name = text(action.name, `${at}action.name`);
  const id = text(resource.id, `${at}resource.id`);
  switch (resource.type) {
    case 'tool':
      only(resourceProps, `${at}resource.properties`, []);
      Object.assign(json, { actionKind: 'tool_call', tool: id, action: name });
      break;
    case 'model':
      only(resourceProps, `${at}resource.properties`, []);
      Object.assign(json, { actionKind: 'model_call', model: id, action: name });
      break;
    case 'memory':
      only(resourceProps, `${at}resource.properties`, ['memoryClass']);
      if (name !== 'read' && name !== 'write')
        throw invalid(
          'invalid_value',
          `${at}action.name must be read or write for a memory resource`,
          `${at}action.name`,
        );
      Object.assign(json, {
        actionKind: name === 'read' ? 'memory_read' : 'memory_write',
        memoryStore: id,
        memoryClass: resourceProps.memoryClass,
      });
      break;
    case 'agent':
      only(resourceProps, `${at}resource.properties`, []);
      Object.assign(json, { actionKind: 'delegation', delegateToAgentId: id, action: name });
      break;
    case 'step':
      only(resourceProps, `${at}resource.properties`, []);
      Object.assign(json, { actionKind: 'step', action: name });
      break;
    default:
      throw invalid(
        'invalid_value',
        `${at}resource.type must be tool, model, memory, agent or step`,
        `${at}resource.type`,
      );
  }
  for (const [key, value] of Object.entries(context)) {
    if (MAPPED.has(key) || key === 'agentToken')
      throw invalid(
        'refused_field',
        `${at}context.${key} comes from subject, action, resource or the Authorization header`,
        `${at}context.${key}`,
      );
    if (key === 'model' && json.model !== undefined)
      throw invalid(
        'refused_field',
        `${at}context.model comes from resource.id for a model resource`,
        `${at}context.model`,
      );
    json[key] = value;
  }
  try {
    return decodeBody<GateRequested>(GateRequestedSchema, json);
  } catch (error) {
    throw renamed(error, (field) =>
      field in context || field.split('.')[0] in context ? `${at}context.${field}` : `${at}${field}`,
    );
  }
}

/** A problem about a gate field, renamed to the AuthZEN member it came from. */
export function renamed(error: unknown, rename: (field: string) => string): unknown {
  if (!(error instanceof DomainError) || !error.field) return error;
  const field = rename(error.field);
  return new DomainError(error.kind, error.code, error.message.split(error.field).join(field), field);
}

/** Where a gate field of an evaluation came from, for problems found after mapping. */
export function authzenField(field: string, at = ''): string {
  if (field === 'agentId' || field === 'tenantId')
    return `${at}subject.${field === 'agentId' ? 'id' : 'properties.tenantId'}`;
  if (field === 'tool' || field === 'memoryStore' || field === 'delegateToAgentId') return `${at}resource.id`;
  if (field === 'action') return `${at}action.name`;
  if (field === 'actionKind') return `${at}resource.type`;
  if (field === 'memoryClass') return `${at}resource.properties.memoryClass`;
  return `${at}context.${field}`;
}

/**
 * The gate request an evaluation asks for, checked as POST /v1/gate checks a request (ids the
 * token's, the request proof in `context.requestProof`), with every problem named by the AuthZEN
 * member it came from.
 */
export function authzenRequest(
  e: AuthzenEvaluation,
  agent: AuthenticatedAgent,
  rules: RequestRules,
  at = '',
): GateRequested {
  const sent = toGateRequest(e, at);
  try {
    return prepareGateRequest(sent, agent, undefined, rules);
  } catch (error) {
    throw renamed(error, (field) => authzenField(field, at));
  }
}

/** The AuthZEN answer of a gate decision: `decision` true only on allow; the rest in `context`. */
export function toAuthzenDecision(a: GateAnswer): AuthzenDecision {
  const context: Record<string, unknown> = {
    id: a.requestId,
    requestId: a.requestId,
    verdict: a.verdict,
    final: a.final,
    timedOut: a.timedOut,
    reason_admin: { en: a.reason },
    hints: a.hints,
  };
  for (const key of [
    'decisionId',
    'decisionToken',
    'tokenExpiresAtMs',
    'completedByRequestId',
    'approvalTaskId',
    'approvers',
  ] as const)
    if (a[key] !== undefined) context[key] = a[key];
  return { decision: a.allowed, context };
}

/** An evaluation of a batch that could not be asked: a deny that says why (AuthZEN 1.0 error in context). */
export function errorDecision(error: DomainError, status: number): AuthzenDecision {
  return {
    decision: false,
    context: {
      error: { status, code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) },
    },
  };
}

/**
 * Runs a batch (POST /access/v1/evaluations) with `evaluate` asking the gate for one evaluation
 * (its members merged over the batch's; `at` is its prefix, `evaluations[i].`):
 *
 * - no `evaluations`: one evaluation of the top-level members, its problems thrown (a 4xx);
 * - `execute_all`: every evaluation at once, the answers in request order;
 * - `deny_on_first_deny` / `permit_on_first_permit`: one after the other, stopping after the
 *   first `decision: false` / `true` (so the answer may be shorter);
 * - an evaluation that cannot be asked (a DomainError) is a deny carrying the error
 *   (`statusOf` gives its HTTP status); it counts as a deny for `deny_on_first_deny`.
 */
export async function evaluateBatch(
  batch: AuthzenBatch,
  evaluate: (e: AuthzenEvaluation, at: string) => Promise<AuthzenDecision>,
  statusOf: (error: DomainError) => number,
): Promise<{ evaluations: AuthzenDecision[] } | AuthzenDecision> {
  if (batch.evaluations.length === 0) return evaluate(batch.defaults, '');
  const one = async (e: AuthzenEvaluation, i: number): Promise<AuthzenDecision> => {
    try {
      return await evaluate(merged(batch.defaults, e), `evaluations[${i}].`);
    } catch (error) {
      if (error instanceof DomainError) return errorDecision(error, statusOf(error));
      throw error;
    }
  };
  if (batch.semantic === 'execute_all') return { evaluations: await Promise.all(batch.evaluations.map(one)) };
  const stopOn = batch.semantic === 'permit_on_first_permit';
  const out: AuthzenDecision[] = [];
  for (const [i, e] of batch.evaluations.entries()) {
    const d = await one(e, i);
    out.push(d);
    if (d.decision === stopOn) break;
  }
  return { evaluations: out };
}
