import { isMessage } from '@bufbuild/protobuf';
import {
  ActionKind,
  create,
  DataClass,
  GateDecided,
  RateLimitSchema,
  BudgetSettledSchema,
  StepCompletedSchema,
  ToolContractPublishedSchema,
  Verdict,
} from '@warden/contracts';
import { given } from '@warden/kernel';
import {
  AGENT_HISTORY_CAP,
  agentKey,
  emptyGateActivity,
  evolveGateActivity,
  GateActivity,
  mergeHistory,
} from './activity';
import { HistoryEntry } from './bundles/api';
import { compileRules } from './bundles/compile';
import { agentToken, envelope, NOW, registryEvents, registryOf, request, reservation, view } from './gate.fixtures';
import { gate, GateCommand } from './gate';

/** Temporal and sequence rules, written in CEL over `run.history` and `agent_history.history`. */
const bundle = compileRules({
  bundleId: 'temporal',
  tenantId: 'acme',
  version: '3',
  digest: 'sha256:t3',
  rules: [
    {
      id: 'no-send-after-pii',
      description: 'no external send after reading PII in this run without approval',
      when: 'request.tool == "payroll" && request.action == "draft" && run.history.exists(h, "pii" in h.dataClasses)',
      effect: 'require_approval',
      risk: 20,
      reason: 'sending after reading PII in this run',
    },
    {
      id: 'three-reads-per-hour',
      description: 'at most 3 payroll reads per hour per agent',
      when: 'request.action == "read" && agent_history.history.filter(h, h.action == "read" && h.atMs > now - 3600000.0).size() >= 3',
      effect: 'deny',
      risk: 0,
      reason: 'at most 3 reads per hour',
    },
  ],
});

const decide = (requestId: string, over: Parameters<typeof request>[0] = {}, at = NOW, v = view()): GateCommand => ({
  type: 'DecideGate',
  request: request({ requestId, deadlineMs: NOW + 30 * 86_400_000, ...over }),
  reservation: reservation(),
  view: { ...v, bundleFor: () => bundle },
  decisionId: `d-${requestId}`,
  now: at,
});

describe('temporal rules over the run and the agent history', () => {
  it('asks approval to send after PII was read in this run, not before', () => {
    const plain = given(gate, [])
      .when(decide('r1', { action: 'draft' }))
      .thenEvents()[0];
    expect(Verdict[plain.verdict]).toBe('ALLOW');
    const read = given(gate, [])
      .when(decide('r2', { dataClasses: [DataClass.PII] }))
      .thenEvents()[0];
    const after = given(gate, [read])
      .when(decide('r3', { action: 'draft' }, NOW + 10))
      .thenEvents()[0];
    expect(Verdict[after.verdict]).toBe('PENDING_APPROVAL');
    expect(after.reason).toContain('sending after reading PII in this run');
  });

  it('denies the fourth read within an hour across the agent’s runs, and allows again an hour later', () => {
    let activity: GateActivity = emptyGateActivity(86_400_000);
    const record = (d: GateDecided) => (activity = evolveGateActivity(activity, envelope(d)));
    const withActivity = () =>
      view({ agentHistory: (t, a) => activity.agentHistory.get(agentKey(t, a)) ?? [], versions: view().versions });
    for (let i = 0; i < 3; i++) {
      const d = given(gate, [])
        .when(decide(`other-${i}`, { runId: `run-${i}` }, NOW + i, withActivity()))
        .thenEvents()[0];
      expect(Verdict[d.verdict]).toBe('ALLOW');
      record(d);
    }
    const fourth = given(gate, [])
      .when(decide('r4', { runId: 'run-9' }, NOW + 10, withActivity()))
      .thenEvents()[0];
    expect(Verdict[fourth.verdict]).toBe('DENY');
    expect(fourth.reason).toBe('at most 3 reads per hour');
    const later = given(gate, [])
      .when(
        decide(
          'r5',
          { runId: 'run-9', agentToken: agentToken({ exp: Math.floor(NOW / 1000) + 7200 }) },
          NOW + 3_600_010,
          withActivity(),
        ),
      )
      .thenEvents()[0];
    expect(Verdict[later.verdict]).toBe('ALLOW');
  });
});

describe('the tool contract rate limit', () => {
  it('denies a call beyond the contract rate limit per agent within its window', () => {
    const limited = registryOf(
      registryEvents().map((e) =>
        isMessage(e, ToolContractPublishedSchema)
          ? create(ToolContractPublishedSchema, {
              ...e,
              contract: { ...e.contract!, rateLimit: create(RateLimitSchema, { calls: 2, windowMs: 60_000 }) },
            })
          : e,
      ),
    );
    const earlier = (id: string, atMs: number) => ({
      requestId: id,
      actionKind: 'tool_call',
      tool: 'payroll',
      action: 'read',
      atMs,
      dataClasses: [],
      verdict: 'allow',
    });
    const v = (history: ReturnType<typeof earlier>[]) => view({ agentHistory: () => history }, limited);
    const cmd = (history: ReturnType<typeof earlier>[]): GateCommand => ({ ...decide('r1'), view: v(history) });
    const once = given(gate, [])
      .when(cmd([earlier('a', NOW - 1000)]))
      .thenEvents()[0];
    expect(Verdict[once.verdict]).toBe('ALLOW');
    const twice = given(gate, [])
      .when(cmd([earlier('a', NOW - 1000), earlier('b', NOW - 500)]))
      .thenEvents()[0];
    expect(Verdict[twice.verdict]).toBe('DENY');
    expect(twice.context!.evaluations.at(-1)!.policyId).toBe('warden.contract.rate-limit');
    const old = given(gate, [])
      .when(cmd([earlier('a', NOW - 60_000), earlier('b', NOW - 500)]))
      .thenEvents()[0];
    expect(Verdict[old.verdict]).toBe('ALLOW');
  });
});

describe('the activity table', () => {
  it('records completed idempotency keys once, by tenant, from settlements only', () => {
    // An agent's raw report is not a completion: only the budget stage's settlement of a proven request.
    const raw = create(StepCompletedSchema, { requestId: 'r0', idempotencyKey: 'k', tenantId: 'acme' });
    expect(evolveGateActivity(emptyGateActivity(1000), envelope(raw)).completions.size).toBe(0);
    const done = create(BudgetSettledSchema, { requestId: 'r1', idempotencyKey: 'k', tenantId: 'acme' });
    const a1 = evolveGateActivity(emptyGateActivity(1000), envelope(done));
    expect(a1.completions.get('acme/k')).toBe('r1');
    const again = evolveGateActivity(a1, envelope(create(BudgetSettledSchema, { ...done, requestId: 'r2' })));
    expect(again).toBe(a1);
    expect(a1.completions.get('acme/k')).toBe('r1');
  });

  it('keeps allowed decisions within the horizon only, and ignores other verdicts and duplicates', () => {
    let a = emptyGateActivity(1000);
    const allowed = (requestId: string, at: number, verdict = Verdict.ALLOW) =>
      given(gate, [])
        .when(decide(requestId, { actionKind: ActionKind.TOOL_CALL }, at))
        .thenEvents()
        .map((d) => ({ ...d, verdict }))[0];
    a = evolveGateActivity(a, envelope(allowed('r1', NOW)));
    const before = a;
    a = evolveGateActivity(a, envelope(allowed('r1', NOW)));
    expect(a).toBe(before);
    a = evolveGateActivity(a, envelope(allowed('r2', NOW + 500, Verdict.DENY)));
    a = evolveGateActivity(a, envelope(allowed('r3', NOW + 1500)));
    expect(a.agentHistory.get('acme/payroll-bot')!.map((h) => h.requestId)).toEqual(['r3']);
  });

  it('keeps the history in time order when decisions arrive out of order, capped per agent', () => {
    let a = emptyGateActivity(86_400_000);
    const allow = (requestId: string, at: number) =>
      given(gate, [])
        .when(decide(requestId, { actionKind: ActionKind.TOOL_CALL }, at))
        .thenEvents()[0];
    for (const [id, at] of [
      ['r1', NOW + 10],
      ['r3', NOW + 30],
      ['r2', NOW + 20],
      ['r0', NOW],
    ] as const)
      a = evolveGateActivity(a, envelope(allow(id, at)));
    const ids = () => a.agentHistory.get('acme/payroll-bot')!.map((h) => h.requestId);
    expect(ids()).toEqual(['r0', 'r1', 'r2', 'r3']);
    const before = a;
    expect(evolveGateActivity(a, envelope(allow('r2', NOW + 20)))).toBe(before);
    for (let i = 0; i < AGENT_HISTORY_CAP; i++) a = evolveGateActivity(a, envelope(allow(`n${i}`, NOW + 100 + i)));
    expect(ids()).toHaveLength(AGENT_HISTORY_CAP);
    expect(ids()[0]).toBe('n0');
  });
});

describe('mergeHistory', () => {
  const h = (requestId: string, atMs: number): HistoryEntry => ({
    requestId,
    atMs,
    actionKind: 'tool_call',
    tool: 't',
    action: 'a',
    dataClasses: [],
    verdict: 'allow',
  });

  it('returns the agent history itself when it already holds the run’s steps', () => {
    const agent = [h('a', 1), h('b', 2), h('c', 2), h('d', 3)];
    expect(mergeHistory(agent, [h('c', 2), h('d', 3)])).toBe(agent);
    expect(mergeHistory(agent, [])).toBe(agent);
  });

  it('adds the run’s steps the agent history lacks, in time order, each once', () => {
    const agent = [h('a', 1), h('c', 3)];
    expect(mergeHistory(agent, [h('b', 2), h('c', 3), h('e', 5)]).map((x) => x.requestId)).toEqual([
      'a',
      'b',
      'c',
      'e',
    ]);
  });
});
