import {
  ActionKind,
  create,
  GateRequested,
  MemoryClass,
  RiskClass,
  StandingApprovalGrantedSchema,
  Verdict,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import { CompiledBundle } from './bundles/api';
import { NOW, registryEvents, registryOf, request, reservation, view } from './gate.fixtures';
import { gate } from './gate';
import { GateView } from './gate-view';

/**
 * ADR 0013, row by row: the agent's autonomy level is a ceiling on what the gate allows without a
 * person. The fixture contract's actions: read (low), draft (medium), approve (medium, requires
 * approval), pay (critical); a rule adds risk to reach high.
 */
const NAMES = [
  'suggest only',
  'act with approval on every tool call',
  'act within low risk',
  'act within medium risk',
  'fully autonomous within budgets',
];

/** A bundle whose one rule adds `risk` to every request (read + 45 = 55: high). */
const riskyBy =
  (risk: number): GateView['bundleFor'] =>
  () =>
    ({
      bundleId: 'b',
      tenantId: 'acme',
      version: '7',
      digest: 'sha256:b7',
      evaluate: () => [{ ruleId: 'r-risk', version: '7', result: 'allow', risk, reason: 'risky' }],
    }) as CompiledBundle;

const tool = (action: string) => request({ action });
const high = { request: tool('read'), bundleFor: riskyBy(45) };
const memory = (kind: ActionKind, store: string, memoryClass: MemoryClass) =>
  request({ actionKind: kind, tool: '', action: '', memoryStore: store, memoryClass });
const modelCall = () => request({ actionKind: ActionKind.MODEL_CALL, tool: '', action: '', model: 'gpt-5' });
const delegation = () =>
  request({ actionKind: ActionKind.DELEGATION, tool: '', action: '', delegateToAgentId: 'helper-bot' });

function decideAt(level: number, r: GateRequested, over: Partial<GateView> = {}) {
  const [d] = given(gate, [])
    .when({
      type: 'DecideGate',
      request: r,
      reservation: reservation(),
      view: view(over, registryOf(registryEvents(level))),
      decisionId: 'dec-1',
      now: NOW,
    })
    .thenEvents();
  const autonomy = d.context!.evaluations.find((e) => e.policyId === 'warden.autonomy');
  return { verdict: Verdict[d.verdict], reason: d.reason, d, autonomy };
}

type Row = [string, () => { request: GateRequested; bundleFor?: GateView['bundleFor'] }, string];
const rows: Record<number, Row[]> = {
  0: [
    ['a model call', () => ({ request: modelCall() }), 'ALLOW'],
    [
      'a read of its session memory',
      () => ({ request: memory(ActionKind.MEMORY_READ, 'notes', MemoryClass.SESSION) }),
      'ALLOW',
    ],
    ['a read of shared memory', () => ({ request: memory(ActionKind.MEMORY_READ, 'kb', MemoryClass.SHARED) }), 'DENY'],
    ['a memory write', () => ({ request: memory(ActionKind.MEMORY_WRITE, 'notes', MemoryClass.SESSION) }), 'DENY'],
    ['a low-risk tool call', () => ({ request: tool('read') }), 'DENY'],
    ['a delegation', () => ({ request: delegation() }), 'DENY'],
  ],
  1: [
    ['a model call', () => ({ request: modelCall() }), 'ALLOW'],
    ['a read of shared memory', () => ({ request: memory(ActionKind.MEMORY_READ, 'kb', MemoryClass.SHARED) }), 'ALLOW'],
    [
      'a memory write',
      () => ({ request: memory(ActionKind.MEMORY_WRITE, 'notes', MemoryClass.SESSION) }),
      'PENDING_APPROVAL',
    ],
    ['a low-risk tool call', () => ({ request: tool('read') }), 'PENDING_APPROVAL'],
    ['a medium-risk tool call', () => ({ request: tool('draft') }), 'PENDING_APPROVAL'],
    ['a delegation', () => ({ request: delegation() }), 'PENDING_APPROVAL'],
  ],
  2: [
    ['a memory write', () => ({ request: memory(ActionKind.MEMORY_WRITE, 'notes', MemoryClass.SESSION) }), 'ALLOW'],
    ['a low-risk tool call', () => ({ request: tool('read') }), 'ALLOW'],
    ['a medium-risk tool call', () => ({ request: tool('draft') }), 'PENDING_APPROVAL'],
    ['a high-risk tool call', () => high, 'PENDING_APPROVAL'],
    ['a critical-risk tool call', () => ({ request: tool('pay') }), 'PENDING_APPROVAL'],
  ],
  3: [
    ['a low-risk tool call', () => ({ request: tool('read') }), 'ALLOW'],
    ['a medium-risk tool call', () => ({ request: tool('draft') }), 'ALLOW'],
    ['a high-risk tool call', () => high, 'PENDING_APPROVAL'],
    ['a critical-risk tool call', () => ({ request: tool('pay') }), 'DENY'],
  ],
  4: [
    ['a low-risk tool call', () => ({ request: tool('read') }), 'ALLOW'],
    ['a medium-risk tool call', () => ({ request: tool('draft') }), 'ALLOW'],
    ['a high-risk tool call', () => high, 'ALLOW'],
    ['a critical-risk tool call', () => ({ request: tool('pay') }), 'PENDING_APPROVAL'],
  ],
};
const table = Object.entries(rows).flatMap(([level, list]) =>
  list.map(([what, make, verdict]) => [Number(level), what, verdict, make] as const),
);

describe('autonomy levels (ADR 0013)', () => {
  it.each(table)('level %i: %s is %s', (level, _what, verdict, make) => {
    const { request: r, bundleFor } = make();
    const out = decideAt(level, r, bundleFor ? { bundleFor } : {});
    expect(out.verdict).toBe(verdict);
    // The decision records the level it applied, with the result that level gives.
    expect(out.autonomy?.reason).toMatch(new RegExp(`^autonomy level ${level} \\(${NAMES[level]}\\): `));
    expect(out.autonomy?.version).toBe('builtin-2');
    const result = { ALLOW: 'pass', DENY: 'deny', PENDING_APPROVAL: 'require_approval' }[verdict];
    // Level 4 asks for critical risk itself; everywhere else the verdict is the autonomy's own.
    expect(out.autonomy?.result).toBe(result);
    if (verdict === 'DENY') {
      expect(out.d.context!.evaluations.at(-1)!.policyId).toBe('warden.autonomy');
      expect(out.reason).toBe(out.autonomy!.reason);
    }
    if (verdict === 'PENDING_APPROVAL') expect(out.reason).toContain(`autonomy level ${level}`);
  });

  it('comes after the risk class is known and before approval, and records the risk on a deny', () => {
    const { d } = decideAt(3, tool('pay'));
    const ids = d.context!.evaluations.map((e) => e.policyId);
    expect(ids.slice(-2)).toEqual(['warden.risk', 'warden.autonomy']);
    expect(d.context!.riskClass).toBe(RiskClass.CRITICAL);
    expect(d.reason).toBe('autonomy level 3 (act within medium risk): a critical-risk tool call is not allowed');
  });

  it.each([1, 2, 3, 4])('level %i: a contract action that requires approval still needs it', (level) => {
    const out = decideAt(level, tool('approve'));
    expect(out.verdict).toBe('PENDING_APPROVAL');
    expect(out.d.context!.evaluations.map((e) => e.policyId)).toContain('warden.approval.contract');
    expect(out.reason).toContain('payroll.approve requires approval');
  });

  it.each([0, 1, 2, 3, 4])('level %i: a prohibition still denies, before autonomy is consulted', (level) => {
    const out = decideAt(level, request({ action: 'draft', redactedArguments: { employee: 'E1', amount: 20000 } }));
    expect(out.verdict).toBe('DENY');
    expect(out.d.context!.evaluations.at(-1)!.policyId).toBe('warden.contract.prohibition.no-large-payments');
    expect(out.autonomy).toBeUndefined();
  });

  it('the level-2 agent of the demo: a medium-risk draft waits for approval, a low-risk read is allowed', () => {
    expect(decideAt(2, tool('draft')).reason).toBe(
      'approval required: autonomy level 2 (act within low risk): a medium-risk tool call needs approval',
    );
    expect(decideAt(2, tool('read')).verdict).toBe('ALLOW');
  });

  it('a standing approval a person granted covers what the level asks approval for', () => {
    const standing = new Map([
      [
        'sa-1',
        {
          grant: create(StandingApprovalGrantedSchema, {
            standingId: 'sa-1',
            tenantId: 'acme',
            tool: 'payroll',
            actions: ['read'],
            maxRiskClass: RiskClass.LOW,
          }),
          revoked: false,
          exhausted: false,
          uses: 0,
        },
      ],
    ]);
    const out = decideAt(1, tool('read'), { standing });
    expect(out.verdict).toBe('ALLOW');
    expect(out.d.context!.approval!.standingApprovalId).toBe('sa-1');
  });

  it('fails closed on a level off the scale, and reads an agent without a profile as level 0', () => {
    expect(decideAt(7, tool('read'))).toMatchObject({
      verdict: 'DENY',
      reason: 'autonomy level 7 is not on the scale 0-4 (fail closed)',
    });
    const [d] = given(gate, [])
      .when({
        type: 'DecideGate',
        request: request({
          agentId: 'helper-bot',
          actionKind: ActionKind.MODEL_CALL,
          tool: '',
          action: '',
          agentToken: '',
        }),
        reservation: reservation(),
        view: view({ settings: { decisionTokenTtlMs: 1000, agentTokens: 'optional' } }),
        decisionId: 'dec-1',
        now: NOW,
      })
      .thenEvents();
    expect(d.context!.evaluations.find((e) => e.policyId === 'warden.autonomy')!.reason).toBe(
      'autonomy level 0 (suggest only): a model call is within it',
    );
  });
});
