import {
  ActionKind,
  create,
  DecisionContextSchema,
  EvaluationSchema,
  Evaluation,
  GateDecided,
  GateDecidedSchema,
  GateRequested,
  KillSwitchEngaged,
  ReservationRefSchema,
  RiskClass,
  StateVersionsSchema,
  Verdict,
  describeScope,
} from '@warden/contracts';
import { assertNever, Decider } from '@warden/kernel';
import { AgentEntry } from './agent-directory';

/** Version of the built-in admission checks; recorded in every evaluation they make. */
export const BUILTIN_CHECKS_VERSION = 'builtin-1';

/** The budget stage's answer to the request. */
export interface ReservationResult {
  readonly granted: boolean;
  readonly reservationId: string;
  readonly reason: string;
  readonly reservedTokens: number;
}

export type GateCommand = {
  readonly type: 'DecideGate';
  readonly request: GateRequested;
  readonly reservation: ReservationResult;
  /** Kill switches in force whose scope covers the request. */
  readonly killSwitches: readonly KillSwitchEngaged[];
  /** The agent as the registry last said, or undefined if unknown. */
  readonly agent: AgentEntry | undefined;
  readonly versions: { readonly registry: number; readonly killswitch: number };
  readonly decisionId: string;
  readonly now: number;
};

/** Per run: the decision made for each request id (exactly one per request). */
export interface GateState {
  readonly decisions: ReadonlyMap<string, GateDecided>;
}

type Check = { readonly id: string; readonly verdict: Verdict; readonly reason: string };

const pass = (id: string, reason: string): Check => ({ id, verdict: Verdict.ALLOW, reason });
const deny = (id: string, reason: string): Check => ({ id, verdict: Verdict.DENY, reason });

/**
 * The admission checks, in their documented order; the first that does not pass decides.
 * deadline -> kill switch -> registry (agent, status, environment, tool, action) -> budget.
 */
export function admissionChecks(cmd: GateCommand): Check[] {
  const { request: r, agent, now } = cmd;
  const checks: Check[] = [];
  if (r.deadlineMs > 0 && now > r.deadlineMs) {
    return [
      {
        id: 'warden.deadline',
        verdict: Verdict.EXPIRED,
        reason: `deadline passed ${now - r.deadlineMs} ms before the decision`,
      },
    ];
  }
  checks.push(pass('warden.deadline', r.deadlineMs > 0 ? 'within deadline' : 'no deadline'));
  if (cmd.killSwitches.length > 0) {
    const s = cmd.killSwitches[0];
    return [
      ...checks,
      deny(
        'warden.killswitch',
        `kill switch ${s.switchId} (${describeScope(s.scope)}) engaged by ${s.engagedBy}: ${s.reason}`,
      ),
    ];
  }
  checks.push(pass('warden.killswitch', 'no kill switch covers the request'));
  const registry = registryCheck(r, agent);
  checks.push(registry);
  if (registry.verdict !== Verdict.ALLOW) return checks;
  if (!cmd.reservation.granted) return [...checks, deny('warden.budget', `budget refused: ${cmd.reservation.reason}`)];
  checks.push(pass('warden.budget', `reserved ${cmd.reservation.reservedTokens} tokens`));
  return checks;
}

function registryCheck(r: GateRequested, agent: AgentEntry | undefined): Check {
  const id = 'warden.registry';
  if (!agent || agent.tenantId !== r.tenantId)
    return deny(id, `agent ${r.agentId} is not registered in tenant ${r.tenantId}`);
  if (agent.status !== 'active') return deny(id, `agent ${r.agentId} is ${agent.status}, not active`);
  const profile = agent.profile;
  const environments = profile?.environments ?? [];
  if (r.environment && environments.length > 0 && !environments.includes(r.environment)) {
    return deny(id, `agent ${r.agentId} may not run in environment ${r.environment}`);
  }
  if (r.actionKind === ActionKind.TOOL_CALL) {
    const grant = profile?.tools.find((t) => t.tool === r.tool);
    if (!grant) return deny(id, `tool ${r.tool} is not allowed for agent ${r.agentId}`);
    if (!grant.actions.includes(r.action) && !grant.actions.includes('*')) {
      return deny(id, `action ${r.action} on ${r.tool} is outside the agent's permission envelope`);
    }
  }
  return pass(id, `agent ${r.agentId} is active and may ${describeAction(r)}`);
}

function describeAction(r: GateRequested): string {
  return r.actionKind === ActionKind.TOOL_CALL
    ? `call ${r.tool}.${r.action}`
    : `take a ${ActionKind[r.actionKind]?.toLowerCase() ?? 'step'}`;
}

/** The vocabulary of `Evaluation.result` (see gate.proto). */
const RESULT: Partial<Record<Verdict, string>> = {
  [Verdict.ALLOW]: 'pass',
  [Verdict.DENY]: 'deny',
  [Verdict.EXPIRED]: 'expired',
  [Verdict.PENDING_APPROVAL]: 'require_approval',
};

function evaluation(check: Check): Evaluation {
  return create(EvaluationSchema, {
    policyId: check.id,
    version: BUILTIN_CHECKS_VERSION,
    result: RESULT[check.verdict] ?? 'deny',
    reason: check.reason,
  });
}

export const gate: Decider<GateCommand, GateState, GateDecided> = {
  initialState: { decisions: new Map() },

  decide(cmd, state) {
    switch (cmd.type) {
      case 'DecideGate': {
        const earlier = state.decisions.get(cmd.request.requestId);
        // A request id gets exactly one decision: a duplicate is answered with the same one.
        if (earlier) return [earlier];
        const checks = admissionChecks(cmd);
        const deciding = checks.find((c) => c.verdict !== Verdict.ALLOW);
        const verdict = deciding?.verdict ?? Verdict.ALLOW;
        const r = cmd.request;
        return [
          create(GateDecidedSchema, {
            decisionId: cmd.decisionId,
            requestId: r.requestId,
            tenantId: r.tenantId,
            agentId: r.agentId,
            runId: r.runId,
            stepId: r.stepId,
            idempotencyKey: r.idempotencyKey,
            verdict,
            reason: deciding?.reason ?? 'all admission checks passed',
            decidedAtMs: cmd.now,
            final: verdict !== Verdict.PENDING_APPROVAL,
            request: r,
            context: create(DecisionContextSchema, {
              evaluations: checks.map(evaluation),
              riskScore: 0,
              riskClass: RiskClass.LOW,
              reservation: create(ReservationRefSchema, {
                reservationId: cmd.reservation.reservationId,
                granted: cmd.reservation.granted,
                reason: cmd.reservation.reason,
                reservedTokens: cmd.reservation.reservedTokens,
              }),
              versions: create(StateVersionsSchema, {
                policyBundleVersion: BUILTIN_CHECKS_VERSION,
                registryOffset: cmd.versions.registry,
                killswitchOffset: cmd.versions.killswitch,
              }),
              killSwitchIds: cmd.killSwitches.map((s) => s.switchId),
            }),
          }),
        ];
      }
      default:
        return assertNever(cmd.type, 'command');
    }
  },

  evolve(state, event) {
    if (state.decisions.has(event.requestId)) return state;
    return { decisions: new Map(state.decisions).set(event.requestId, event) };
  },
};
