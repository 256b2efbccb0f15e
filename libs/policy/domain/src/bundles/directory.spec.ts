import { create, Envelope, GateRequestedSchema, ActionKind, DataClass, PolicyBundlePublished } from '@warden/contracts';
import { given } from '@warden/kernel';
import { bundleRepository, BundleEvent } from './bundle-repository';
import { compareBundles, FlipTally, recordedRuleInput, requestJson } from './compare';
import {
  activeBundleAt,
  BundleDirectory,
  emptyBundleDirectory,
  evolveBundleDirectory,
  shadowBundleOf,
} from './directory';
import { parseBundleDocument } from './document';

const T0 = 1_763_700_000_000;
const meta = { tenantId: 't1', by: 'alice', roles: ['admin'], now: T0 };
const docOf = (version: string, when: string) =>
  parseBundleDocument({
    id: 'b',
    version,
    rules: [
      { id: 'gate', when, effect: 'deny', reason: 'no' },
      { id: 'steady', when: 'request.attempt > 5', effect: 'deny' },
    ],
  });

function envelope(data: BundleEvent): Envelope {
  return {
    id: `${data.$typeName}-${Math.random()}`,
    type: data.$typeName,
    source: 's',
    time: T0,
    key: 't1',
    tenantId: 't1',
    agentId: '',
    runId: '',
    data,
  };
}

function fold(events: BundleEvent[]): BundleDirectory {
  return events.map(envelope).reduce(evolveBundleDirectory, emptyBundleDirectory());
}

function decide(history: BundleEvent[], command: Parameters<typeof bundleRepository.decide>[0]): BundleEvent {
  return given(bundleRepository, history).when(command).thenEvents()[0];
}

describe('the bundle directory the gate folds from policy.events', () => {
  const p1 = decide([], { type: 'PublishBundle', ...meta, document: docOf('1', 'request.tool == "rm"'), source: '' });
  const p2 = decide([p1], {
    type: 'PublishBundle',
    ...meta,
    document: docOf('2', 'request.tool in ["rm", "curl"]'),
    source: '',
  });
  const a1 = decide([p1, p2], { type: 'ActivateBundle', ...meta, version: '1', effectiveAtMs: T0 + 100 });
  const s2 = decide([p1, p2, a1], { type: 'SetShadowBundle', ...meta, version: '2' });

  it('gives the bundle active at a time, compiled once per version, and the shadow candidate', () => {
    const directory = fold([p1, p2, a1, s2]);
    expect(activeBundleAt(directory, 't1', T0 + 99)).toBeUndefined();
    const active = activeBundleAt(directory, 't1', T0 + 100);
    expect(active).toMatchObject({
      bundleId: 'b',
      tenantId: 't1',
      version: '1',
      digest: (p1 as PolicyBundlePublished).digest,
    });
    expect(activeBundleAt(directory, 't1', T0 + 500)).toBe(active);
    expect(shadowBundleOf(directory, 't1')?.version).toBe('2');
    expect(activeBundleAt(directory, 'other', T0 + 500)).toBeUndefined();
    expect(shadowBundleOf(fold([p1, p2, a1]), 't1')).toBeUndefined();
  });

  it('keeps the compiled cache across later events and ignores other records', () => {
    const directory = fold([p1, p2, a1]);
    const active = activeBundleAt(directory, 't1', T0 + 100);
    const later = evolveBundleDirectory(directory, envelope(s2));
    expect(activeBundleAt(later, 't1', T0 + 100)).toBe(active);
    const unrelated = { ...envelope(s2), type: 'warden.gate.v1.GateRequested', data: create(GateRequestedSchema, {}) };
    expect(evolveBundleDirectory(later, unrelated)).toBe(later);
  });

  it('a version that no longer compiles fails closed: every rule errs', () => {
    const bad = {
      ...(p1 as PolicyBundlePublished),
      rules: (p1 as PolicyBundlePublished).rules.map((r) => ({ ...r, when: 'request.' })),
    };
    const directory = fold([bad as BundleEvent, a1]);
    const bundle = activeBundleAt(directory, 't1', T0 + 100);
    expect(bundle?.evaluate(recordedRuleInput(create(GateRequestedSchema, {}), T0)).map((v) => v.result)).toEqual([
      'error',
      'error',
    ]);
  });

  it('compares a candidate with the active bundle on a recorded request and tallies flips by rule', () => {
    const directory = fold([p1, p2, a1, s2]);
    const active = activeBundleAt(directory, 't1', T0 + 100);
    const shadow = shadowBundleOf(directory, 't1')!;
    const curl = create(GateRequestedSchema, {
      requestId: 'r1',
      tool: 'curl',
      agentToken: 'secret.jwt',
      actionKind: ActionKind.TOOL_CALL,
      dataClasses: [DataClass.PII],
    });
    expect(requestJson(curl)).toMatchObject({
      tool: 'curl',
      actionKind: 'tool_call',
      dataClasses: ['pii'],
      memoryClass: 'unspecified',
      agentToken: '[present]',
      attempt: 0,
    });
    const flip = compareBundles(recordedRuleInput(curl, T0 + 100), active, shadow);
    expect(flip).toMatchObject({
      baselineVersion: '1',
      baselineEffect: 'allow',
      candidateVersion: '2',
      candidateEffect: 'deny',
      flippedRules: ['gate'],
      flipped: true,
    });
    const same = compareBundles(recordedRuleInput(create(GateRequestedSchema, { tool: 'rm' }), T0), active, shadow);
    expect(same.flipped).toBe(false);
    const tally = new FlipTally();
    tally.add(flip, { requestId: 'r1', decisionId: 'd1', agentId: 'a', decidedAtMs: T0, liveVerdict: 'allow' });
    tally.add(same, { requestId: 'r2', decisionId: 'd2', agentId: 'a', decidedAtMs: T0, liveVerdict: 'deny' });
    expect(tally.report()).toEqual({
      evaluated: 2,
      agreed: 1,
      flipped: 1,
      byRule: { gate: 1 },
      byTransition: { 'allow->deny': 1 },
      flips: [
        {
          requestId: 'r1',
          decisionId: 'd1',
          agentId: 'a',
          decidedAtMs: T0,
          liveVerdict: 'allow',
          from: 'allow',
          to: 'deny',
          rules: ['gate'],
        },
      ],
    });
  });
});
