import {
  AgentTokenClaims,
  argumentsDigest,
  CanonicalJsonError,
  create,
  GateRequested,
  GateRequestedSchema,
  gateRequestProblem,
  outcomeProblem,
  outcomeProofProblem,
  requestProofProblem,
  StepCompleted,
  StepFailed,
  withRequestDefaults,
} from '@warden/contracts';
import { forbidden, invalid } from '@warden/kernel';

/** The agent an HTTP call was authenticated as (its DPoP-bound agent token, ADR 0119). */
export interface AuthenticatedAgent {
  readonly token: string;
  readonly claims: AgentTokenClaims;
  /** The thumbprint of the key the token is bound to: request and outcome proofs must be by it. */
  readonly jkt: string;
}

export interface RequestRules {
  /** How far `deadlineMs` may lie after `requestedAtMs` (GATE_MAX_DEADLINE_MS). */
  readonly maxDeadlineMs: number;
}

/**
 * The request a client proves and the gateway publishes: the sent fields with the defaults of
 * docs/protocol.md applied, the digest of the arguments, and the agent token. A client computes
 * its request proof over exactly this (`requestProof(requestToProve(...), key)`).
 */
export function requestToProve(sent: GateRequested, token: string): GateRequested {
  const request = create(GateRequestedSchema, withRequestDefaults(sent));
  request.arguments = sent.arguments ?? {};
  request.argumentsDigest = argumentsDigest(sent.arguments ?? {});
  request.agentToken = token;
  return request;
}

/**
 * The request as it will be published, checked as the gate will check it: the fields, ids equal
 * to the token's (absent ids are the token's), the arguments digest, the defaults, and the
 * request proof (the header, or `requestProof`) by the token's key. Throws 400/403 problems
 * naming the field.
 */
export function prepareGateRequest(
  sent: GateRequested,
  agent: AuthenticatedAgent,
  proofHeader: string | undefined,
  rules: RequestRules,
): GateRequested {
  const r: GateRequested = { ...sent }; // create() would return `sent` itself: leave the caller's as it is
  if (r.agentToken && r.agentToken !== agent.token)
    throw invalid('refused_field', 'agentToken is the token of the Authorization header: leave it out', 'agentToken');
  r.tenantId ||= agent.claims.tenant;
  r.agentId ||= agent.claims.sub;
  if (r.tenantId !== agent.claims.tenant || r.agentId !== agent.claims.sub)
    throw forbidden(
      'wrong_agent',
      `the agent token is ${agent.claims.tenant}/${agent.claims.sub}'s, the request names ${r.tenantId}/${r.agentId}`,
    );
  if (proofHeader && r.requestProof && proofHeader !== r.requestProof)
    throw invalid('invalid_value', 'the Warden-Request-Proof header and requestProof differ', 'requestProof');
  r.requestProof ||= proofHeader ?? '';
  const problem = gateRequestProblem(r, { maxDeadlineMs: rules.maxDeadlineMs });
  if (problem)
    throw invalid(problem.code, `invalid request (field ${problem.field}): ${problem.reason}`, problem.field);
  let digest: string;
  try {
    digest = argumentsDigest(r.arguments ?? {});
  } catch (error) {
    const path = error instanceof CanonicalJsonError ? error.path : '';
    throw invalid('invalid_value', (error as Error).message, `arguments${path}`);
  }
  if (r.argumentsDigest && r.argumentsDigest !== digest)
    throw invalid(
      'digest_mismatch',
      `argumentsDigest ${r.argumentsDigest} is not the digest of the arguments (${digest})`,
      'argumentsDigest',
    );
  const request = requestToProve(r, agent.token);
  if (!request.requestProof)
    throw invalid(
      'missing_field',
      'a request proof is required (the Warden-Request-Proof header, or requestProof): a JWS by the key the agent token is bound to',
      'requestProof',
    );
  const proofProblem = requestProofProblem(request, agent.jkt);
  if (proofProblem) throw invalid('invalid_value', proofProblem, 'requestProof');
  return request;
}

/**
 * An outcome as it will be published, checked: the fields, ids equal to the token's (absent ids
 * are the token's), and the outcome proof (the header, or `outcomeProof`) by the token's key.
 */
export function prepareOutcome<O extends StepCompleted | StepFailed>(
  sent: O,
  agent: AuthenticatedAgent,
  proofHeader: string | undefined,
): O {
  const outcome = { ...sent };
  outcome.tenantId ||= agent.claims.tenant;
  outcome.agentId ||= agent.claims.sub;
  if (outcome.tenantId !== agent.claims.tenant || outcome.agentId !== agent.claims.sub)
    throw forbidden(
      'wrong_agent',
      `the agent token is ${agent.claims.tenant}/${agent.claims.sub}'s, the outcome names ${outcome.tenantId}/${outcome.agentId}`,
    );
  if (proofHeader && outcome.outcomeProof && proofHeader !== outcome.outcomeProof)
    throw invalid('invalid_value', 'the Warden-Outcome-Proof header and outcomeProof differ', 'outcomeProof');
  outcome.outcomeProof ||= proofHeader ?? '';
  const problem = outcomeProblem(outcome);
  if (problem)
    throw invalid(problem.code, `invalid outcome (field ${problem.field}): ${problem.reason}`, problem.field);
  const proofProblem = outcomeProofProblem(outcome, agent.jkt);
  if (proofProblem) throw invalid('invalid_value', proofProblem, 'outcomeProof');
  return outcome;
}
