import {
  ActionKind,
  create,
  GateDecided,
  GateRequestedSchema,
  KillSwitchEngagedSchema,
  ScopeSchema,
  ToolGrantSchema,
  AgentProfileSchema,
  Verdict,
} from '@warden/contracts';
import type { MessageInitShape } from '@warden/contracts';
import { given } from '@warden/kernel';
import { AgentEntry } from './agent-directory';
import { gate, GateCommand } from './gate';

const now = 1_800_000_000_000;
const agent: AgentEntry = {
  agentId: 'payroll-bot',
  tenantId: 'acme',
  status: 'active',
  version: 2,
  profile: create(AgentProfileSchema, {
    environments: ['prod'],
    tools: [
      create(ToolGrantSchema, { tool: 'payroll', actions: ['read', 'draft'] }),
      create(ToolGrantSchema, { tool: 'tickets', actions: ['*'] }),
    ],
  }),
};
const request = (over: MessageInitShape<typeof GateRequestedSchema> = {}) =>
  create(GateRequestedSchema, {
    requestId: 'req-1',
    tenantId: 'acme',
    agentId: 'payroll-bot',
    runId: 'run-1',
    stepId: 'step-1',
    actionKind: ActionKind.TOOL_CALL,
    tool: 'payroll',
    action: 'read',
    environment: 'prod',
    deadlineMs: now + 1000,
    ...over,
  });
const decide = (over: Partial<GateCommand> = {}): GateCommand => ({
  type: 'DecideGate',
  request: request(),
  reservation: { granted: true, reservationId: 'res-1', reason: '', reservedTokens: 100 },
  killSwitches: [],
  agent,
  versions: { registry: 7, killswitch: 3 },
  decisionId: 'dec-1',
  now,
  ...over,
});
const verdictOf = (cmd: GateCommand, history: GateDecided[] = []) => {
  const [d] = given(gate, history).when(cmd).thenEvents();
  return { verdict: Verdict[d.verdict], reason: d.reason, decision: d };
};

describe('gate decider: the admission decision', () => {
  it('allows when every check passes, recording each check, versions and the reservation', () => {
    const { verdict, decision } = verdictOf(decide());
    expect(verdict).toBe('ALLOW');
    expect(decision.final).toBe(true);
    expect(decision.decidedAtMs).toBe(now);
    expect(decision.context!.evaluations.map((e) => [e.policyId, e.result])).toEqual([
      ['warden.deadline', 'pass'],
      ['warden.killswitch', 'pass'],
      ['warden.registry', 'pass'],
      ['warden.budget', 'pass'],
    ]);
    expect(decision.context!.versions).toMatchObject({
      registryOffset: 7,
      killswitchOffset: 3,
      policyBundleVersion: 'builtin-1',
    });
    expect(decision.context!.reservation).toMatchObject({ reservationId: 'res-1', granted: true, reservedTokens: 100 });
    expect(decision.request!.requestId).toBe('req-1');
  });

  it('decides expired past the deadline, before anything else (fail closed, never late allow)', () => {
    const { verdict, decision } = verdictOf(
      decide({ now: now + 1001, killSwitches: [create(KillSwitchEngagedSchema, { switchId: 'k' })] }),
    );
    expect(verdict).toBe('EXPIRED');
    expect(decision.context!.evaluations.map((e) => e.policyId)).toEqual(['warden.deadline']);
  });

  it('denies when a kill switch covers the request, naming it and its reason', () => {
    const ks = create(KillSwitchEngagedSchema, {
      switchId: 'ks-9',
      scope: create(ScopeSchema, { agentId: 'payroll-bot' }),
      engagedBy: 'alice',
      reason: 'wrong accounts',
    });
    const { verdict, reason, decision } = verdictOf(decide({ killSwitches: [ks] }));
    expect(verdict).toBe('DENY');
    expect(reason).toBe('kill switch ks-9 (agentId=payroll-bot) engaged by alice: wrong accounts');
    expect(decision.context!.killSwitchIds).toEqual(['ks-9']);
  });

  it.each([
    ['unknown agent', { agent: undefined }, 'is not registered in tenant acme'],
    ['agent of another tenant', { agent: { ...agent, tenantId: 'globex' } }, 'is not registered in tenant acme'],
    ['suspended agent', { agent: { ...agent, status: 'suspended' as const } }, 'is suspended, not active'],
    ['draft agent', { agent: { ...agent, status: 'draft' as const } }, 'is draft, not active'],
    ['wrong environment', { request: request({ environment: 'staging' }) }, 'may not run in environment staging'],
    ['tool not granted', { request: request({ tool: 'deploy' }) }, 'tool deploy is not allowed'],
    ['action outside the envelope', { request: request({ action: 'pay' }) }, 'action pay on payroll is outside'],
  ])('denies on the registry check: %s', (_name, over, reason) => {
    const { verdict, reason: actual, decision } = verdictOf(decide(over as Partial<GateCommand>));
    expect(verdict).toBe('DENY');
    expect(actual).toContain(reason);
    expect(decision.context!.evaluations.at(-1)!.policyId).toBe('warden.registry');
  });

  it('allows any action of a tool granted with "*", and non-tool steps without a tool grant', () => {
    expect(verdictOf(decide({ request: request({ tool: 'tickets', action: 'close' }) })).verdict).toBe('ALLOW');
    expect(
      verdictOf(decide({ request: request({ actionKind: ActionKind.MODEL_CALL, tool: '', action: '' }) })).verdict,
    ).toBe('ALLOW');
  });

  it('denies when the budget stage refused the reservation', () => {
    const { verdict, reason } = verdictOf(
      decide({
        reservation: {
          granted: false,
          reservationId: 'res-1',
          reason: 'run token budget exhausted',
          reservedTokens: 0,
        },
      }),
    );
    expect(verdict).toBe('DENY');
    expect(reason).toBe('budget refused: run token budget exhausted');
  });

  it('answers a duplicate request id with the very same decision, never a second one', () => {
    const first = verdictOf(decide()).decision;
    const later = decide({
      decisionId: 'dec-2',
      killSwitches: [create(KillSwitchEngagedSchema, { switchId: 'k' })],
      now: now + 10,
    });
    given(gate, [first]).when(later).then([first]);
  });

  it('evolve keeps the first decision of a request', () => {
    const first = verdictOf(decide()).decision;
    const state = given(gate, [first]).state;
    expect(gate.evolve(state, { ...first, decisionId: 'other' })).toBe(state);
  });
});
