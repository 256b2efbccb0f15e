import {
  decodeAgentJson,
  EnvelopeError,
  GateDecided,
  GateDecidedSchema,
  Message,
  StepCompleted,
  StepCompletedSchema,
  StepFailed,
  StepFailedSchema,
  toJson,
  typeRegistry,
  Verdict,
} from '@warden/contracts';
import { invalid } from '@warden/kernel';

export type VerdictName = 'allow' | 'deny' | 'pending_approval' | 'expired' | 'already_completed';

/** What POST /v1/gate (and each AuthZEN evaluation) answers: the decision, or a fail-closed deny. */
export interface GateAnswer {
  readonly requestId: string;
  readonly verdict: VerdictName;
  /** True only for `allow`. */
  readonly allowed: boolean;
  /** False for pending_approval: the final decision of the same request follows (on the reply topic). */
  readonly final: boolean;
  /** True when no decision came before the deadline (or the gateway's cap): a deny that never reached the gate. */
  readonly timedOut: boolean;
  readonly reason: string;
  readonly decisionId?: string;
  readonly decisionToken?: string;
  readonly tokenExpiresAtMs?: number;
  readonly hints: readonly string[];
  readonly completedByRequestId?: string;
  readonly approvalTaskId?: string;
  readonly approvers?: readonly string[];
  /** The step id and idempotency key the request was sent with (defaults applied), for its outcome. */
  readonly stepId: string;
  readonly idempotencyKey: string;
  /** The GateDecided itself, in protobuf's canonical JSON (docs/protocol.md, Decisions); absent on a timeout. */
  readonly decision?: unknown;
}

/** The ids of the request an answer is about (as it was published, defaults applied). */
export type AnsweredRequest = Pick<GateAnswer, 'requestId' | 'stepId' | 'idempotencyKey'>;

const VERDICTS: Record<number, VerdictName> = {
  [Verdict.ALLOW]: 'allow',
  [Verdict.DENY]: 'deny',
  [Verdict.PENDING_APPROVAL]: 'pending_approval',
  [Verdict.EXPIRED]: 'expired',
  [Verdict.ALREADY_COMPLETED]: 'already_completed',
};

/** A problem of agent input as a 400 naming the field (the gate's own codes, docs/protocol.md). */
function badInput(error: unknown): never {
  if (error instanceof EnvelopeError) throw invalid(error.code, error.message, error.field || undefined);
  throw error;
}

/** Decodes a JSON body as a protobuf-JSON message of `schema`, refusing unknown fields by name. */
export function decodeBody<T extends Message>(schema: Parameters<typeof decodeAgentJson>[0], body: unknown): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('undecodable_data', 'the body must be a JSON object (Content-Type: application/json)');
  try {
    return decodeAgentJson(schema, Buffer.from(JSON.stringify(body))) as T;
  } catch (error) {
    badInput(error);
  }
}

/** The outcome body: a StepCompleted or StepFailed in protobuf-JSON, told apart by `status`. */
export function decodeOutcome(body: unknown): StepCompleted | StepFailed {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('undecodable_data', 'the body must be a JSON object (Content-Type: application/json)');
  const { status, ...rest } = body as Record<string, unknown>;
  if (status === 'completed') return decodeBody<StepCompleted>(StepCompletedSchema, rest);
  if (status === 'failed') return decodeBody<StepFailed>(StepFailedSchema, rest);
  throw invalid(
    status === undefined ? 'missing_field' : 'invalid_value',
    'status must be "completed" or "failed"',
    'status',
  );
}

/** The answer when no decision came in time: a deny, never an allow (fail closed). */
export function failClosedAnswer(request: AnsweredRequest, reason: string): GateAnswer {
  return { ...request, verdict: 'deny', allowed: false, final: true, timedOut: true, reason, hints: [] };
}

/** The answer of a decision: `allowed` only on allow; an unknown verdict is a deny. */
export function decisionAnswer(request: AnsweredRequest, d: GateDecided): GateAnswer {
  const verdict = VERDICTS[d.verdict] ?? 'deny';
  const approval = d.context?.approval;
  return {
    ...request,
    verdict,
    allowed: verdict === 'allow',
    final: d.final,
    timedOut: false,
    reason: d.reason,
    decisionId: d.decisionId || undefined,
    decisionToken: d.decisionToken || undefined,
    tokenExpiresAtMs: d.tokenExpiresAtMs || undefined,
    hints: [...d.hints],
    completedByRequestId: d.completedByRequestId || undefined,
    approvalTaskId: approval?.taskId || undefined,
    approvers: approval?.approvers.length ? [...approval.approvers] : undefined,
    decision: toJson(GateDecidedSchema, d, { registry: typeRegistry }),
  };
}
