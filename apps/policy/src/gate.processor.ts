import { createHash, createPrivateKey } from 'node:crypto';
import {
  ActiveSwitches,
  ApprovalDeniedSchema,
  ApprovalExpiredSchema,
  ApprovalGrantedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  evolveActiveSwitches,
  encode,
  GateDecided,
  GateDecidedSchema,
  GateRequestRejectedSchema,
  is,
  KeyUse,
  Topic,
} from '@warden/contracts';
import {
  activeBundleAt,
  activeKey,
  agentKey,
  BundleDirectory,
  COMPLETION_TYPE,
  completionKey,
  DecisionSigner,
  emptyBundleDirectory,
  emptyGateActivity,
  emptyGateRegistry,
  evolveBundleDirectory,
  evolveGateActivity,
  evolveGateRegistry,
  gate,
  GateActivity,
  GateCommand,
  GateRegistry,
  GateSettings,
  GateState,
  GateView,
  ReservationResult,
  signDecisionToken,
} from '@warden/policy-domain';
import {
  currentTraceHeaders,
  OFF_GATE_PATH,
  openPrivateKey,
  parseKek,
  Processor,
  ProcessorDefinition,
  replyTopicSpec,
  ServiceRuntime,
  SideOutput,
  Table,
} from '@warden/platform';
import { PolicyConfig } from './config';
import { decisionLatency } from './decision-latency';

/** The tables the gate decides from; each is folded from Kafka on every instance. */
export interface GateTables {
  readonly switches: Table<ActiveSwitches>;
  readonly registry: Table<GateRegistry>;
  readonly bundles: Table<BundleDirectory>;
  readonly activity: Table<GateActivity>;
}

/**
 * Opens the active decision-token key with the KEK, once per kid. Without a KEK, or when the
 * key cannot be opened, there is no signer and allow decisions fail closed.
 */
export function decisionSigners(
  keyEncryptionKey: string,
  warn: (message: string, fields: Record<string, unknown>) => void = () => undefined,
): (registry: GateRegistry) => DecisionSigner | undefined {
  const kek = keyEncryptionKey ? parseKek(keyEncryptionKey) : undefined;
  const opened = new Map<string, DecisionSigner | undefined>();
  return (registry) => {
    const key = activeKey(registry, KeyUse.DECISION_TOKEN);
    if (!key || !kek) return undefined;
    if (!opened.has(key.kid)) {
      try {
        const jwk = openPrivateKey(key.sealedPrivateKey, key.kid, kek);
        opened.set(key.kid, { kid: key.kid, privateKey: createPrivateKey({ key: jwk as never, format: 'jwk' }) });
      } catch (error) {
        warn('cannot open the decision-token key: every allow fails closed until a key opens', {
          kid: key.kid,
          error: (error as Error).message,
        });
        opened.set(key.kid, undefined);
      }
    }
    return opened.get(key.kid);
  };
}

/** The budget stage's answer as the admission decision reads it. */
export function reservationOf(answer: BudgetReserved | BudgetReservationRefused): ReservationResult {
  if (answer.$typeName === BudgetReservedSchema.typeName) {
    return {
      granted: true,
      reservationId: answer.reservationId,
      reason: '',
      reservedTokens: answer.reservedTokens,
      approvalRequired: answer.approvalRequired,
      approvalReason: answer.approvalReason,
      hints: answer.degradeHints,
    };
  }
  return {
    granted: false,
    reservationId: answer.reservationId,
    reason: answer.reason,
    reservedTokens: 0,
    approvalRequired: false,
    approvalReason: '',
    hints: [],
  };
}

/** The view of the tables a decision reads right now, with their versions. */
export function viewOf(
  t: GateTables,
  signerOf: (registry: GateRegistry) => DecisionSigner | undefined,
  settings: GateSettings,
): GateView {
  const activity = t.activity.state;
  return {
    registry: t.registry.state,
    switches: t.switches.state,
    bundleFor: (tenantId, now) => activeBundleAt(t.bundles.state, tenantId, now),
    standing: activity.standing,
    completedBy: (tenantId, key) => activity.completions.get(completionKey(tenantId, key)),
    agentHistory: (tenantId, agentId) => activity.agentHistory.get(agentKey(tenantId, agentId)) ?? [],
    signer: signerOf(t.registry.state),
    settings,
    versions: {
      registry: t.registry.version,
      killswitch: t.switches.version,
      activity: t.activity.version,
      bundles: t.bundles.version,
      positions: [...t.registry.positions, ...t.switches.positions, ...t.bundles.positions],
    },
  };
}

/** Each tenant's policy bundles, compiled per version, folded from policy.events. */
export function bundleDirectoryTable(runtime: ServiceRuntime, instanceId: string): Table<BundleDirectory> {
  return runtime.table<BundleDirectory>(
    {
      name: 'policy-bundles',
      topics: [Topic.policyEvents],
      initial: emptyBundleDirectory,
      evolve: evolveBundleDirectory,
    },
    instanceId,
  );
}

/**
 * A decision as published (docs/adr/0070): on gate.decisions without its decision token (only its
 * digest), and on the agent's reply topic with it, encoded as the agent asked. A decision answered
 * again (a duplicate request after a rebuild) has no token in its state: it is signed again, which
 * gives the identical token (Ed25519 is deterministic). Replies go only to registered agents.
 */
export function decisionOutputs(
  decided: GateDecided,
  prefix: string,
  registry: GateRegistry,
  signer: DecisionSigner | undefined,
): { event: GateDecided; extra: SideOutput[] } {
  let token = decided.decisionToken;
  if (!token && decided.decisionTokenDigest && decided.request && signer?.kid === decided.decisionTokenKid) {
    token = signDecisionToken(
      signer,
      decided.request,
      decided.decisionId,
      decided.decidedAtMs,
      decided.tokenExpiresAtMs,
    );
  }
  const event: GateDecided = token
    ? { ...decided, decisionToken: '', decisionTokenDigest: createHash('sha256').update(token).digest('hex') }
    : decided;
  const agent = registry.agents.get(decided.agentId);
  if (!agent || agent.tenantId !== decided.tenantId) return { event, extra: [] };
  const spec = replyTopicSpec(prefix, decided.tenantId, decided.agentId);
  const trace = currentTraceHeaders();
  const wire = encode(
    {
      id: `${decided.decisionId}:reply`,
      type: GateDecidedSchema.typeName,
      source: 'warden://policy/policy-gate',
      time: decided.decidedAtMs,
      key: decided.runId,
      tenantId: decided.tenantId,
      agentId: decided.agentId,
      runId: decided.runId,
      traceparent: trace.traceparent,
      tracestate: trace.tracestate,
      data: { ...event, decisionToken: token } as GateDecided,
    },
    decided.request?.replyContentType === 'application/json' ? 'application/json' : 'application/protobuf',
  );
  return { event, extra: [{ record: { topic: spec.topic, ...wire }, ensure: spec }] };
}

/**
 * The policy stage of the gate: consumes the budget stage's answers (which carry the request)
 * and approval resolutions (same run-id key, so the pending decision is on this partition),
 * decides with the tables folded from Kafka, and publishes GateDecided. It is the only writer of
 * gate.decisions. The runtime waits for every table to catch up before it handles any input, so
 * kill switches engaged while the service was down hold for the first request after a restart.
 */
export function wireGate(
  runtime: ServiceRuntime,
  config: Pick<
    PolicyConfig,
    'instanceId' | 'keyEncryptionKey' | 'decisionTokenTtlMs' | 'agentTokens' | 'agentHistoryHorizonMs'
  >,
  /** The bundle directory, when the service shares one table with the bundle API and shadow processor. */
  bundles: Table<BundleDirectory> = bundleDirectoryTable(runtime, config.instanceId),
): Processor<GateCommand, GateState, GateDecided> {
  const { instanceId } = config;
  const tables: GateTables = {
    switches: runtime.table<ActiveSwitches>(
      {
        name: 'policy-killswitches',
        topics: [Topic.killswitchEvents],
        initial: () => new Map(),
        evolve: evolveActiveSwitches,
      },
      instanceId,
    ),
    registry: runtime.table<GateRegistry>(
      {
        name: 'policy-registry',
        topics: [Topic.registryEvents],
        initial: emptyGateRegistry,
        evolve: evolveGateRegistry,
      },
      instanceId,
    ),
    bundles,
    activity: runtime.table<GateActivity>(
      {
        name: 'policy-activity',
        topics: [Topic.budgetReservations, Topic.gateDecisions, Topic.approvalEvents],
        initial: () => emptyGateActivity(config.agentHistoryHorizonMs),
        evolve: evolveGateActivity,
        // Of the budget stage's answers only settlements count (completed steps); the rest is not decoded.
        skip: (h) => h.ce_type?.startsWith('warden.budget.') === true && h.ce_type !== COMPLETION_TYPE,
        // Activity is eventually consistent across instances anyway: gathered, not fetched per record.
        batching: OFF_GATE_PATH,
      },
      instanceId,
    ),
  };
  const signerOf = decisionSigners(config.keyEncryptionKey, (message, fields) => runtime.logger.warn(message, fields));
  const settings: GateSettings = { decisionTokenTtlMs: config.decisionTokenTtlMs, agentTokens: config.agentTokens };
  const observe = decisionLatency(runtime.metrics.registry);

  const definition: ProcessorDefinition<GateCommand, GateState, GateDecided> = {
    name: 'policy-gate',
    inputs: [Topic.budgetReservations, Topic.approvalEvents],
    outputs: [Topic.gateDecisions],
    decider: gate,
    tables: Object.values(tables),
    command(input, ctx) {
      if (is(input, GateRequestRejectedSchema)) {
        return {
          type: 'RejectRequest',
          rejection: input.data,
          view: viewOf(tables, signerOf, settings),
          decisionId: ctx.id(),
          now: ctx.now,
        };
      }
      if (is(input, ApprovalGrantedSchema) || is(input, ApprovalDeniedSchema) || is(input, ApprovalExpiredSchema)) {
        return {
          type: 'ResolveApproval',
          resolution: input.data,
          view: viewOf(tables, signerOf, settings),
          decisionId: ctx.id(),
          now: ctx.now,
        };
      }
      const answer =
        is(input, BudgetReservedSchema) || is(input, BudgetReservationRefusedSchema) ? input.data : undefined;
      const request = answer?.request;
      if (!request) return null;
      return {
        type: 'DecideGate',
        request,
        reservation: reservationOf(answer as BudgetReserved | BudgetReservationRefused),
        view: viewOf(tables, signerOf, settings),
        decisionId: ctx.id(),
        now: ctx.now,
      };
    },
    sideOutputs: (decided, _input, prefix) =>
      decisionOutputs(decided, prefix, tables.registry.state, signerOf(tables.registry.state)),
    route: (d) => ({
      topic: Topic.gateDecisions,
      key: d.runId,
      tenantId: d.tenantId,
      agentId: d.agentId,
      runId: d.runId,
    }),
    observe,
  };
  return runtime.process(definition);
}
