import {
  ApprovalDenied,
  ApprovalExpired,
  ApprovalGranted,
  ApprovalGrantedSchema,
  ApprovalDeniedSchema,
  ApprovalRefSchema,
  approvalTaskId,
  create,
  DecisionContextSchema,
  EvaluationSchema,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  GateRequestedSchema,
  GateRequestRejected,
  ReservationRefSchema,
  StateVersionsSchema,
  TablePositionSchema,
  Verdict,
} from '@warden/contracts';
import { assertNever, Decider } from '@warden/kernel';
import {
  Admission,
  admit,
  BUILTIN_CHECKS_VERSION,
  Check,
  killSwitchCheck,
  policyChecks,
  registryChecks,
  ReservationResult,
  ruleInput,
} from './admission';
import { historyEntry, mergeHistory } from './activity';
import { AgentEntry } from './agent-directory';
import { HistoryEntry } from './bundles/api';
import { GateView } from './gate-view';
import { signDecisionToken } from './tokens';

export type ApprovalResolution = ApprovalGranted | ApprovalDenied | ApprovalExpired;

export type GateCommand =
  | {
      readonly type: 'DecideGate';
      readonly request: GateRequested;
      readonly reservation: ReservationResult;
      readonly view: GateView;
      readonly decisionId: string;
      /** The decision clock: handling time, recorded as decided_at_ms (replay passes it back). */
      readonly now: number;
    }
  | {
      /** The gate's ingress could not accept the request as sent (docs/adr/0070): deny, naming the field. */
      readonly type: 'RejectRequest';
      readonly rejection: GateRequestRejected;
      readonly view: GateView;
      readonly decisionId: string;
      readonly now: number;
    }
  | {
      readonly type: 'ResolveApproval';
      readonly resolution: ApprovalResolution;
      readonly view: GateView;
      readonly decisionId: string;
      readonly now: number;
    };

/** Per run: the latest decision for each request id, and the run's allowed steps (for temporal rules). */
export interface GateState {
  readonly decisions: ReadonlyMap<string, GateDecided>;
  readonly history: readonly HistoryEntry[];
}

const VERDICT_OF: Record<Check['result'], Verdict> = {
  pass: Verdict.ALLOW,
  deny: Verdict.DENY,
  expired: Verdict.EXPIRED,
  require_approval: Verdict.PENDING_APPROVAL,
  already_completed: Verdict.ALREADY_COMPLETED,
};

const evaluation = (c: Check) =>
  create(EvaluationSchema, {
    policyId: c.id,
    version: c.version,
    result: c.result === 'already_completed' ? 'pass' : c.result,
    reason: c.reason,
    riskContribution: c.risk,
  });

const reservationRef = (res: ReservationResult) =>
  create(ReservationRefSchema, {
    reservationId: res.reservationId,
    granted: res.granted,
    reason: res.reason,
    reservedTokens: res.reservedTokens,
    approvalRequired: res.approvalRequired,
    approvalReason: res.approvalReason,
  });

const versions = (view: GateView, bundleVersion: string, contractVersion: string, contractDigest: string) =>
  create(StateVersionsSchema, {
    policyBundleVersion: bundleVersion,
    registryOffset: view.versions.registry,
    killswitchOffset: view.versions.killswitch,
    activityOffset: view.versions.activity,
    bundlesOffset: view.versions.bundles,
    contractVersion,
    contractDigest,
    positions: (view.versions.positions ?? []).map((p) =>
      create(TablePositionSchema, { topic: p.topic, nextOffsets: [...p.nextOffsets] }),
    ),
  });

/** An allow needs a decision token; with no signing key it fails closed. */
function withToken(
  verdict: Verdict,
  r: GateRequested,
  view: GateView,
  decisionId: string,
  now: number,
): { verdict: Verdict; token: string; kid: string; expiresAt: number; check?: Check } {
  if (verdict !== Verdict.ALLOW) return { verdict, token: '', kid: '', expiresAt: 0 };
  if (!view.signer) {
    return {
      verdict: Verdict.DENY,
      token: '',
      kid: '',
      expiresAt: 0,
      check: {
        id: 'warden.decision-token',
        version: BUILTIN_CHECKS_VERSION,
        result: 'deny',
        reason: 'no decision-token signing key is available, so no allow can be issued (fail closed)',
        risk: 0,
      },
    };
  }
  const expiresAt = now + view.settings.decisionTokenTtlMs;
  return {
    verdict,
    token: signDecisionToken(view.signer, r, decisionId, now, expiresAt),
    kid: view.signer.kid,
    expiresAt,
  };
}

/**
 * The request as decisions record it: no credential after the gate (ARCHITECTURE invariant 8). The
 * agent token and request proof are dropped; the token's id and credential stay, once verified.
 */
export function requestOfRecord(r: GateRequested, proved: Admission['proved']): GateRequested {
  return {
    ...r,
    agentToken: '',
    requestProof: '',
    agentTokenId: proved?.tokenId ?? r.agentTokenId,
    credentialId: proved?.credentialId ?? r.credentialId,
  };
}

/** The deny of a request the gate's ingress refused, naming the field at fault. */
function rejected(cmd: Extract<GateCommand, { type: 'RejectRequest' }>): GateDecided {
  const x = cmd.rejection;
  const reason = `invalid request${x.field ? ` (field ${x.field})` : ''}: ${x.reason}`;
  const request = create(GateRequestedSchema, {
    requestId: x.requestId,
    tenantId: x.tenantId,
    agentId: x.agentId,
    runId: x.runId,
    replyContentType: x.replyContentType,
  });
  return create(GateDecidedSchema, {
    decisionId: cmd.decisionId,
    requestId: x.requestId,
    tenantId: x.tenantId,
    agentId: x.agentId,
    runId: x.runId,
    verdict: Verdict.DENY,
    reason,
    decidedAtMs: cmd.now,
    final: true,
    request,
    context: create(DecisionContextSchema, {
      evaluations: [
        create(EvaluationSchema, {
          policyId: `warden.request.${x.code || 'invalid'}`,
          version: BUILTIN_CHECKS_VERSION,
          result: 'deny',
          reason,
        }),
      ],
      versions: versions(cmd.view, '', '', ''),
    }),
  });
}

function decided(
  r: GateRequested,
  a: Admission,
  reservation: ReservationResult,
  view: GateView,
  decisionId: string,
  now: number,
): GateDecided {
  const pending = !a.deciding && a.approvalRequired.length > 0;
  const initial = a.deciding ? VERDICT_OF[a.deciding.result] : pending ? Verdict.PENDING_APPROVAL : Verdict.ALLOW;
  const t = withToken(initial, r, view, decisionId, now);
  const checks = t.check ? [...a.checks, t.check] : a.checks;
  const reason = t.check
    ? t.check.reason
    : a.deciding
      ? a.deciding.reason
      : pending
        ? `approval required: ${a.approvalRequired.map((c) => c.reason).join('; ')}`
        : a.standing
          ? `allowed under standing approval ${a.standing.grant.standingId}`
          : 'all admission checks passed';
  return create(GateDecidedSchema, {
    decisionId,
    requestId: r.requestId,
    tenantId: r.tenantId,
    agentId: r.agentId,
    runId: r.runId,
    stepId: r.stepId,
    idempotencyKey: r.idempotencyKey,
    verdict: t.verdict,
    reason,
    decidedAtMs: now,
    final: t.verdict !== Verdict.PENDING_APPROVAL,
    request: requestOfRecord(r, a.proved),
    decisionToken: t.token,
    decisionTokenKid: t.kid,
    tokenExpiresAtMs: t.expiresAt,
    completedByRequestId: a.completedBy,
    hints: [...reservation.hints],
    context: create(DecisionContextSchema, {
      evaluations: checks.map(evaluation),
      riskScore: a.riskScore,
      riskClass: a.riskClass,
      reservation: reservationRef(reservation),
      versions: versions(
        view,
        a.bundleVersion,
        a.contract?.contract.version ?? '',
        a.contract?.contract.definitionDigest ?? '',
      ),
      killSwitchIds: [...a.killSwitchIds],
      approval: a.standing
        ? create(ApprovalRefSchema, { standingApprovalId: a.standing.grant.standingId, resolvedAtMs: now })
        : t.verdict === Verdict.PENDING_APPROVAL
          ? // The task that will decide it: the approval service derives the same id (docs/adr/0116).
            create(ApprovalRefSchema, { taskId: approvalTaskId(r.tenantId, r.runId, r.requestId) })
          : undefined,
    }),
  });
}

/**
 * The final decision for a pending request once its approval resolved. A grant is re-checked:
 * kill switches and the registry as they are now, the policy in force now (tool contract, memory,
 * delegation, the tenant's active bundle, risk and autonomy: a deny there means the verdict changed
 * while the request waited, and the grant cannot stand), and the approval's binding (the request's
 * arguments digest, the policy version of the pending decision, and an expiry in the future).
 */
function resolved(
  pending: GateDecided,
  resolution: ApprovalResolution,
  view: GateView,
  decisionId: string,
  now: number,
  runHistory: readonly HistoryEntry[],
) {
  const r = pending.request as GateRequested;
  const checks: Check[] = [];
  // What the decision was made under: the pending decision's bundle, until the re-evaluation reads the one in force.
  let under = {
    bundle: pending.context?.versions?.policyBundleVersion ?? '',
    contract: pending.context?.versions?.contractVersion ?? '',
    digest: pending.context?.versions?.contractDigest ?? '',
  };
  const final = (verdict: Verdict, reason: string, extra: Partial<GateDecided> = {}) => {
    const context = pending.context;
    return create(GateDecidedSchema, {
      ...pending,
      decisionId,
      verdict,
      reason,
      decidedAtMs: now,
      final: true,
      decisionToken: '',
      decisionTokenKid: '',
      tokenExpiresAtMs: 0,
      ...extra,
      context: create(DecisionContextSchema, {
        riskScore: context?.riskScore ?? 0,
        riskClass: context?.riskClass,
        reservation: context?.reservation,
        killSwitchIds: context?.killSwitchIds ?? [],
        evaluations: [...(context?.evaluations ?? []), ...checks.map(evaluation)],
        versions: versions(view, under.bundle, under.contract, under.digest),
        approval: create(ApprovalRefSchema, {
          taskId: resolution.taskId,
          approvedBy: resolution.$typeName === ApprovalGrantedSchema.typeName ? resolution.approvedBy : '',
          approvers: resolution.$typeName === ApprovalGrantedSchema.typeName ? [...resolution.approvers] : [],
          resolvedAtMs: now,
        }),
      }),
    });
  };
  if (resolution.$typeName === ApprovalDeniedSchema.typeName) {
    return final(
      Verdict.DENY,
      `approval denied by ${resolution.deniedBy}${resolution.comment ? `: ${resolution.comment}` : ''}`,
    );
  }
  if (resolution.$typeName !== ApprovalGrantedSchema.typeName) {
    return final(Verdict.EXPIRED, `approval task ${resolution.taskId} expired unresolved`);
  }
  const ks = killSwitchCheck(view.switches, r, now);
  checks.push(ks.check);
  if (ks.check.result !== 'pass') return final(Verdict.DENY, ks.check.reason);
  // The agent token was checked when the request was decided (and dropped): its proof stands.
  const registry = registryChecks(
    r,
    view.registry,
    { settings: { ...view.settings, recordedRequests: true } },
    pending.decidedAtMs,
  );
  checks.push(...registry.checks);
  const failed = registry.checks.find((c) => c.result !== 'pass');
  if (failed) return final(Verdict.DENY, failed.reason);
  // Re-evaluated on the policy in force now, not the one the approval was asked under.
  const bundle = view.bundleFor(r.tenantId, now);
  const contract = registry.contract;
  under = {
    bundle: bundle?.version ?? '',
    contract: contract?.contract.version ?? '',
    digest: contract?.contract.definitionDigest ?? '',
  };
  const agent = view.registry.agents.get(r.agentId) as AgentEntry;
  const agentHistory = mergeHistory(view.agentHistory(r.tenantId, r.agentId), runHistory);
  const input = ruleInput(r, agent, contract, runHistory, agentHistory, now);
  const policy = policyChecks(r, agent, contract, bundle, input, view.registry);
  checks.push(...policy.checks);
  if (policy.deciding) {
    const d = policy.deciding;
    checks.push(d);
    const what = policy.rules.includes(d)
      ? `rule ${d.id} of policy bundle ${bundle?.version}`
      : `${d.id} (${d.version})`;
    return final(
      Verdict.DENY,
      `the verdict changed while the request waited for approval: ${what} denies: ${d.reason}`,
    );
  }
  const bindingProblem =
    resolution.argumentsDigest !== r.argumentsDigest
      ? `the approval is for arguments ${resolution.argumentsDigest || '(none)'}, the request has ${r.argumentsDigest || '(none)'}`
      : resolution.policyVersion !== (pending.context?.versions?.policyBundleVersion ?? '')
        ? `the approval is bound to policy version ${resolution.policyVersion || '(none)'}, the request was decided under ${pending.context?.versions?.policyBundleVersion || '(none)'}`
        : resolution.expiresAtMs <= now
          ? `the approval expired at ${resolution.expiresAtMs}`
          : '';
  const binding: Check = {
    id: 'warden.approval.binding',
    version: BUILTIN_CHECKS_VERSION,
    result: bindingProblem ? 'deny' : 'pass',
    reason: bindingProblem || `approved by ${resolution.approvers.join(', ') || resolution.approvedBy}`,
    risk: 0,
  };
  checks.push(binding);
  if (bindingProblem) return final(Verdict.DENY, bindingProblem);
  const t = withToken(Verdict.ALLOW, r, view, decisionId, now);
  if (t.check) {
    checks.push(t.check);
    return final(Verdict.DENY, t.check.reason);
  }
  return final(Verdict.ALLOW, `approved by ${resolution.approvedBy}`, {
    decisionToken: t.token,
    decisionTokenKid: t.kid,
    tokenExpiresAtMs: t.expiresAt,
  });
}

export const gate: Decider<GateCommand, GateState, GateDecided> = {
  initialState: { decisions: new Map(), history: [] },

  decide(cmd, state) {
    switch (cmd.type) {
      case 'DecideGate': {
        const earlier = state.decisions.get(cmd.request.requestId);
        // A request id gets exactly one decision: a duplicate is answered with the latest one.
        if (earlier) return [earlier];
        const admission = admit(cmd.request, cmd.reservation, cmd.view, state.history, cmd.now);
        return [decided(cmd.request, admission, cmd.reservation, cmd.view, cmd.decisionId, cmd.now)];
      }
      case 'RejectRequest': {
        const earlier = state.decisions.get(cmd.rejection.requestId);
        if (earlier) return [earlier];
        return cmd.rejection.requestId ? [rejected(cmd)] : [];
      }
      case 'ResolveApproval': {
        const pending = state.decisions.get(cmd.resolution.requestId);
        // Only a pending decision resolves, once: a second resolution (or a stale one) changes nothing.
        if (!pending || pending.final || !pending.request) return [];
        return [resolved(pending, cmd.resolution, cmd.view, cmd.decisionId, cmd.now, state.history)];
      }
      default:
        return assertNever(cmd, 'command');
    }
  },

  evolve(state, event) {
    const earlier = state.decisions.get(event.requestId);
    if (earlier && (earlier.final || !event.final)) return state;
    const decisions = new Map(state.decisions).set(event.requestId, event);
    if (event.verdict !== Verdict.ALLOW || !event.request) return { ...state, decisions };
    return { decisions, history: [...state.history, historyEntry(event, event.request)] };
  },
};
