import {
  CE,
  decode,
  GateDecided,
  GateDecidedSchema,
  is,
  ShadowDecisionRecorded,
  Topic,
  topicName,
  Verdict,
} from '@warden/contracts';
import {
  activeBundleAt,
  BundleCommand,
  BundleDirectory,
  BundleEvent,
  bundleRepository,
  BundleRepositoryState,
  CompiledBundle,
  compareBundles,
  FlipReport,
  FlipTally,
  RecordShadowDecision,
  recordedRuleInput,
  shadowBundleOf,
  ShadowState,
  shadowRecorder,
} from '@warden/policy-domain';
import { bundleVersionsProjection, shadowDecisionsProjection } from '@warden/policy-read-models';
import {
  CommandGateway,
  OFF_GATE_PATH,
  Processor,
  readToEnd,
  ServiceRuntime,
  streamTable,
  Table,
} from '@warden/platform';

export type BundleGateway = CommandGateway<BundleCommand, BundleRepositoryState, BundleEvent>;

/** What the bundle API needs: the command gateway, the directory and a way to read recorded decisions. */
export interface Bundles {
  readonly gateway: BundleGateway;
  readonly directory: Table<BundleDirectory>;
  /** Every GateDecided of a tenant recorded on gate.decisions with a decision time in [fromMs, toMs). */
  recordedDecisions(tenantId: string, fromMs: number, toMs: number): Promise<GateDecided[]>;
}
export const BUNDLES = Symbol('Bundles');

/**
 * Wires the tenant bundle repositories (command gateway over policy.events, keyed by tenant id),
 * the projections, and the shadow processor, over the service's one bundle directory table.
 */
export function wireBundles(runtime: ServiceRuntime, instanceId: string, directory: Table<BundleDirectory>): Bundles {
  const repositories = runtime.table(
    streamTable('policy-bundle-repositories', [Topic.policyEvents], bundleRepository),
    instanceId,
  );
  const gateway: BundleGateway = new CommandGateway(
    bundleRepository,
    repositories,
    runtime.port,
    runtime.prefix,
    'warden://policy',
    (event) => ({ topic: Topic.policyEvents, key: event.tenantId, tenantId: event.tenantId, agentId: '', runId: '' }),
  );
  wireShadow(runtime, directory);
  runtime.project(bundleVersionsProjection);
  runtime.project(shadowDecisionsProjection);
  return {
    gateway,
    directory,
    recordedDecisions: (tenantId, fromMs, toMs) => recordedDecisions(runtime, tenantId, fromMs, toMs),
  };
}

/**
 * policy-shadow: for each decision on gate.decisions whose tenant has a shadow candidate, evaluates
 * the candidate beside the bundle active at the decision time and records ShadowDecisionRecorded on
 * policy.shadow (keyed by run id, like its input). Nothing here reaches the gate's verdict.
 */
export function wireShadow(
  runtime: ServiceRuntime,
  directory: Table<BundleDirectory>,
): Processor<RecordShadowDecision, ShadowState, ShadowDecisionRecorded> {
  return runtime.process({
    name: 'policy-shadow',
    inputs: [Topic.gateDecisions],
    outputs: [Topic.policyShadow],
    decider: shadowRecorder,
    tables: [directory],
    batching: OFF_GATE_PATH,
    // Most tenants shadow nothing most of the time: their decisions are not even decoded.
    skip: (headers) => !shadowBundleOf(directory.state, headers[CE.tenant] ?? ''),
    command(input) {
      if (!is(input, GateDecidedSchema)) return null;
      const decided = input.data;
      const shadow = shadowBundleOf(directory.state, decided.tenantId);
      if (!shadow || !decided.request) return null;
      return {
        type: 'RecordShadowDecision',
        decided,
        active: activeBundleAt(directory.state, decided.tenantId, decided.decidedAtMs),
        shadow,
      };
    },
    route: (event, input) => ({
      topic: Topic.policyShadow,
      key: input.key,
      tenantId: event.tenantId,
      agentId: event.agentId,
      runId: input.runId,
    }),
  });
}

async function recordedDecisions(
  runtime: ServiceRuntime,
  tenantId: string,
  fromMs: number,
  toMs: number,
): Promise<GateDecided[]> {
  const found = new Map<string, GateDecided>();
  await readToEnd(
    runtime.port,
    `${runtime.prefix}policy.what-if`,
    [topicName(runtime.prefix, Topic.gateDecisions)],
    'all',
    (record) => {
      let envelope;
      try {
        envelope = decode(Topic.gateDecisions, record);
      } catch {
        return;
      }
      if (!is(envelope, GateDecidedSchema)) return;
      const d = envelope.data;
      if (d.tenantId !== tenantId || d.decidedAtMs < fromMs || d.decidedAtMs >= toMs || !d.request) return;
      // The first decision of a request (pending or final) is the one the rules produced.
      if (!found.has(d.requestId)) found.set(d.requestId, d);
    },
  );
  return [...found.values()].sort((a, b) => a.decidedAtMs - b.decidedAtMs);
}

/**
 * What-if: evaluates a candidate against recorded decisions, each beside the bundle that was active
 * at its decision time, and reports every decision that would flip, with counts by rule.
 */
export function whatIf(
  decisions: readonly GateDecided[],
  directory: BundleDirectory,
  candidate: CompiledBundle,
): FlipReport {
  const tally = new FlipTally();
  for (const d of decisions) {
    if (!d.request) continue;
    const active = activeBundleAt(directory, d.tenantId, d.decidedAtMs);
    tally.add(compareBundles(recordedRuleInput(d.request, d.decidedAtMs), active, candidate), {
      requestId: d.requestId,
      decisionId: d.decisionId,
      agentId: d.agentId,
      decidedAtMs: d.decidedAtMs,
      liveVerdict: (Verdict[d.verdict] ?? 'UNSPECIFIED').toLowerCase(),
    });
  }
  return tally.report();
}
