import { clone, JsonObject } from '@bufbuild/protobuf';
import { argumentsDigest, CanonicalJsonError } from './canonical-json';
import {
  ActionKind,
  GateRequested,
  GateRequestedSchema,
  MemoryClass,
  StepCompleted,
  StepFailed,
} from './gen/warden/gate/v1/gate_pb';
import { RedactionMark, redactArguments, redactText } from './redaction';

/**
 * What the gate requires of agent input (docs/protocol.md, "Request fields"): every field is
 * required, optional with a documented default, or refused. `acceptGateRequest` checks a decoded
 * request, applies the defaults, checks and computes the arguments digest, redacts the arguments
 * and drops the raw ones: its result is the request of record. Pure; the clock comes in.
 */
export interface FieldProblem {
  /** The protobuf-JSON name of the field at fault. */
  readonly field: string;
  readonly code: 'missing_field' | 'invalid_value' | 'refused_field' | 'digest_mismatch';
  readonly reason: string;
}

export interface IngressRules {
  /** How far after `requested_at_ms` a deadline may lie. */
  readonly maxDeadlineMs: number;
}

export const DEFAULT_MAX_DEADLINE_MS = 300_000;

/** Ids: 1–128 of letters, digits and `._:@-`. */
export const ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;

const problem = (field: string, code: FieldProblem['code'], reason: string): FieldProblem => ({ field, code, reason });

function idProblem(field: string, value: string, required: boolean): FieldProblem | undefined {
  if (!value) return required ? problem(field, 'missing_field', `${field} is required`) : undefined;
  if (!ID_PATTERN.test(value)) {
    return problem(field, 'invalid_value', `${field} must be 1-128 characters of letters, digits and ._:@-`);
  }
  return undefined;
}

const finiteNonNegative = (field: string, value: number) =>
  Number.isFinite(value) && value >= 0 ? undefined : problem(field, 'invalid_value', `${field} must be >= 0`);

/** The first problem of a request as sent, or undefined. Gate-set fields are refused. */
export function gateRequestProblem(r: GateRequested, rules: IngressRules): FieldProblem | undefined {
  const checks: (FieldProblem | undefined)[] = [
    idProblem('requestId', r.requestId, true),
    idProblem('tenantId', r.tenantId, true),
    idProblem('agentId', r.agentId, true),
    idProblem('runId', r.runId, true),
    idProblem('stepId', r.stepId, false),
    r.actionKind === ActionKind.UNSPECIFIED
      ? problem('actionKind', 'missing_field', 'actionKind is required (step, model_call, tool_call, ...)')
      : undefined,
    !(r.requestedAtMs > 0) ? problem('requestedAtMs', 'missing_field', 'requestedAtMs is required') : undefined,
    !(r.deadlineMs > 0)
      ? problem('deadlineMs', 'missing_field', 'deadlineMs is required: a request without a deadline is refused')
      : r.deadlineMs <= r.requestedAtMs
        ? problem('deadlineMs', 'invalid_value', 'deadlineMs must be after requestedAtMs')
        : r.deadlineMs - r.requestedAtMs > rules.maxDeadlineMs
          ? problem(
              'deadlineMs',
              'invalid_value',
              `deadlineMs may be at most ${rules.maxDeadlineMs} ms after requestedAtMs`,
            )
          : undefined,
    r.actionKind === ActionKind.TOOL_CALL && !r.tool
      ? problem('tool', 'missing_field', 'a tool_call names its tool')
      : undefined,
    r.actionKind === ActionKind.TOOL_CALL && !r.action
      ? problem('action', 'missing_field', 'a tool_call names its action')
      : undefined,
    (r.actionKind === ActionKind.MEMORY_READ || r.actionKind === ActionKind.MEMORY_WRITE) && !r.memoryStore
      ? problem('memoryStore', 'missing_field', 'a memory access names its memoryStore')
      : undefined,
    (r.actionKind === ActionKind.MEMORY_READ || r.actionKind === ActionKind.MEMORY_WRITE) &&
    r.memoryClass === MemoryClass.UNSPECIFIED
      ? problem('memoryClass', 'missing_field', 'a memory access names its memoryClass')
      : undefined,
    r.actionKind === ActionKind.DELEGATION && !r.delegateToAgentId
      ? problem('delegateToAgentId', 'missing_field', 'a delegation names delegateToAgentId')
      : undefined,
    r.dataClasses.includes(0)
      ? problem('dataClasses', 'invalid_value', 'dataClasses may not hold DATA_CLASS_UNSPECIFIED')
      : undefined,
    finiteNonNegative('estimatedTokens', r.estimatedTokens),
    r.estimatedCost && !/^[A-Z]{3}$/.test(r.estimatedCost.currency)
      ? problem('estimatedCost.currency', 'invalid_value', 'estimatedCost.currency must be an ISO 4217 code')
      : undefined,
    r.estimatedCost ? finiteNonNegative('estimatedCost.micros', r.estimatedCost.micros) : undefined,
    r.redactedArguments
      ? problem('redactedArguments', 'refused_field', 'redactedArguments is set by the gate: send arguments')
      : undefined,
    r.redactedPaths.length > 0
      ? problem('redactedPaths', 'refused_field', 'redactedPaths is set by the gate')
      : undefined,
    r.agentTokenId ? problem('agentTokenId', 'refused_field', 'agentTokenId is set by the gate') : undefined,
    r.credentialId ? problem('credentialId', 'refused_field', 'credentialId is set by the gate') : undefined,
    r.replyContentType
      ? problem('replyContentType', 'refused_field', 'replyContentType is set by the gate from the headers')
      : undefined,
    r.argumentsDigest && !r.arguments
      ? problem('arguments', 'missing_field', 'argumentsDigest without arguments: the gate checks the digest')
      : undefined,
  ];
  return checks.find((c) => c !== undefined);
}

/** The request with the defaults the protocol documents: stepId = requestId, attempt 1, idempotency key run:step. */
export function withRequestDefaults(r: GateRequested): GateRequested {
  const stepId = r.stepId || r.requestId;
  return {
    ...r,
    stepId,
    attempt: r.attempt || 1,
    idempotencyKey: r.idempotencyKey || `${r.runId}:${stepId}`,
  };
}

export type Accepted =
  { readonly ok: true; readonly request: GateRequested } | { readonly ok: false; readonly problem: FieldProblem };

/**
 * The request of record: defaults applied, the digest of the raw arguments computed (and compared
 * with the one the agent sent), the arguments redacted (with the contract's marks) and the raw ones
 * dropped, the reply encoding recorded.
 */
export function acceptGateRequest(
  sent: GateRequested,
  rules: IngressRules,
  replyContentType: string,
  marks: readonly RedactionMark[] = [],
): Accepted {
  const bad = gateRequestProblem(sent, rules);
  if (bad) return { ok: false, problem: bad };
  const args: JsonObject = sent.arguments ?? {};
  let digest: string;
  try {
    digest = argumentsDigest(args);
  } catch (error) {
    const path = error instanceof CanonicalJsonError ? error.path : '';
    return { ok: false, problem: problem(`arguments${path}`, 'invalid_value', (error as Error).message) };
  }
  if (sent.argumentsDigest && sent.argumentsDigest !== digest) {
    return {
      ok: false,
      problem: problem(
        'argumentsDigest',
        'digest_mismatch',
        `argumentsDigest ${sent.argumentsDigest} is not the digest of the arguments (${digest}); see docs/protocol.md`,
      ),
    };
  }
  const { redacted, paths } = redactArguments(args, marks, sent.dataClasses);
  const request = clone(GateRequestedSchema, withRequestDefaults(sent));
  request.arguments = undefined;
  request.argumentsDigest = digest;
  request.redactedArguments = redacted as JsonObject;
  request.redactedPaths = paths;
  request.replyContentType = replyContentType;
  return { ok: true, request };
}

/** An outcome's problem, or undefined. */
export function outcomeProblem(o: StepCompleted | StepFailed): FieldProblem | undefined {
  return [
    idProblem('requestId', o.requestId, true),
    idProblem('tenantId', o.tenantId, true),
    idProblem('agentId', o.agentId, true),
    idProblem('runId', o.runId, true),
    finiteNonNegative('actualTokens', o.actualTokens),
    finiteNonNegative('durationMs', o.durationMs),
    o.actualCost && !/^[A-Z]{3}$/.test(o.actualCost.currency)
      ? problem('actualCost.currency', 'invalid_value', 'actualCost.currency must be an ISO 4217 code')
      : undefined,
  ].find((c) => c !== undefined);
}

/** The outcome of record: its proof dropped, a secret-looking error text redacted. */
export function acceptOutcome<O extends StepCompleted | StepFailed>(o: O): O {
  const out = { ...o, outcomeProof: '' } as O;
  if (out.$typeName === 'warden.gate.v1.StepFailed') (out as StepFailed).error = redactText((o as StepFailed).error);
  return out;
}
