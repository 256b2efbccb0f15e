import { ActionKind, create, GateDecidedSchema, GateRequestedSchema, RuleEffect, Verdict } from '@warden/contracts';
import { given } from '@warden/kernel';
import { compileRules } from './compile';
import { RecordShadowDecision, shadowRecorder } from './shadow';

const bundle = (version: string, when: string) =>
  compileRules({
    bundleId: 'b',
    tenantId: 't1',
    version,
    digest: version,
    rules: [{ id: 'search', description: '', when, effect: 'deny', risk: 70, reason: 'no search' }],
  });

const decided = (requestId: string, verdict = Verdict.ALLOW) =>
  create(GateDecidedSchema, {
    decisionId: `d-${requestId}-${verdict}`,
    requestId,
    tenantId: 't1',
    agentId: 'bot',
    runId: 'run-1',
    verdict,
    decidedAtMs: 1000,
    request: create(GateRequestedSchema, { requestId, actionKind: ActionKind.TOOL_CALL, tool: 'web.search' }),
  });

const command = (requestId: string, verdict?: Verdict): RecordShadowDecision => ({
  type: 'RecordShadowDecision',
  decided: decided(requestId, verdict),
  active: bundle('1', 'request.tool == "rm"'),
  shadow: bundle('2', 'request.tool == "web.search"'),
});

describe('shadow mode', () => {
  it('given a live allow, when the candidate denies, then both verdicts and the flipped rule are recorded', () => {
    const [event] = given(shadowRecorder).when(command('r1')).thenEvents();
    expect(event).toMatchObject({
      tenantId: 't1',
      requestId: 'r1',
      decisionId: 'd-r1-1',
      liveVerdict: Verdict.ALLOW,
      activeVersion: '1',
      activeEffect: RuleEffect.ALLOW,
      shadowVersion: '2',
      shadowEffect: RuleEffect.DENY,
      flippedRules: ['search'],
      shadowRules: [{ ruleId: 'search', result: 'deny', risk: 70, reason: 'no search' }],
    });
  });

  it('given a request already compared (pending, then final), then nothing more is recorded', () => {
    const [first] = given(shadowRecorder).when(command('r1', Verdict.PENDING_APPROVAL)).thenEvents();
    given(shadowRecorder, [first]).when(command('r1', Verdict.ALLOW)).then([]);
    expect(given(shadowRecorder, [first]).when(command('r2')).thenEvents()).toHaveLength(1);
  });

  it('given no active bundle, the candidate is compared with allow', () => {
    const [event] = given(shadowRecorder)
      .when({ ...command('r1'), active: undefined })
      .thenEvents();
    expect(event).toMatchObject({ activeVersion: '', activeEffect: RuleEffect.ALLOW, shadowEffect: RuleEffect.DENY });
  });
});
