import {
  Ask,
  AskSchema,
  BudgetHeld,
  BudgetHeldSchema,
  BudgetHoldExtended,
  BudgetHoldExtendedSchema,
  BudgetReleased,
  BudgetReleasedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetScope,
  BudgetSettled,
  BudgetSettledSchema,
  BudgetThresholdCrossed,
  Charge,
  create,
  Dimension,
  GateRequested,
  HoldExtensionRequested,
  HoldExtensionRequestedSchema,
  HoldReleaseRequested,
  HoldReleaseRequestedSchema,
  HoldRequested,
  HoldRequestedSchema,
  HoldSettlementRequested,
  HoldSettlementRequestedSchema,
  GateRequestedSchema,
  GateRequestRejected,
  GateRequestRejectedSchema,
  Money,
  MoneySchema,
  outcomeProofProblem,
  proofKeyThumbprint,
  StepCompleted,
  StepFailed,
} from '@warden/contracts';
import { assertNever, Decider, fold, invalid } from '@warden/kernel';
import { BudgetDefinitionState } from './budget-definition';
import { crossingEvent } from './crossing';
import { Actual, applyCharges, check, closingCharges, crossingsOf, isRefusal, Meters } from './meters';
import { PMap } from './persistent-map';
import { actualOf, applicableLimits, askOf, priceOf, RunDefaults } from './plan';
import { dequeue, EMPTY_QUEUE, enqueue, oldestFirst, Queue } from './queue';

/** Most stale holds one command releases; the rest go with the next commands. */
export const SWEEP_LIMIT = 256;

interface CommandBase {
  readonly now: number;
  /** The tenant's budget definitions and price tables, as the definitions table has them. */
  readonly definitions: BudgetDefinitionState | undefined;
  readonly defaults: RunDefaults;
}

export type RunBudgetCommand =
  | (CommandBase & {
      readonly type: 'ReserveBudget';
      readonly request: GateRequested;
      readonly reservationId: string;
      /** The risk points of the request's action (from the tool contracts). */
      readonly riskPoints: number;
      /** Kill switches in force whose scope covers the request: a killed scope has zero budget. */
      readonly killSwitchIds: readonly string[];
      /** How long a hold lasts without an outcome. */
      readonly ttlMs: number;
    })
  | (CommandBase & {
      readonly type: 'RejectGateRequest';
      /** What the gate could not accept (docs/adr/0070): answered once, and again to duplicates. */
      readonly rejection: GateRequestRejected;
    })
  | (CommandBase & {
      readonly type: 'SettleBudget';
      readonly requestId: string;
      readonly actualTokens: number;
      readonly actualCost: Money | undefined;
      /** The agent's report as sent (its proof is checked against the request's key, then dropped). */
      readonly outcome?: StepCompleted;
    })
  | (CommandBase & {
      readonly type: 'ReleaseBudget';
      readonly requestId: string;
      readonly reason: string;
      /** What a failed step reported using (0 and undefined for a denied or expired request). */
      readonly chargedTokens: number;
      readonly chargedCost: Money | undefined;
      /** The agent's failure report as sent, for a release by a failed step. */
      readonly outcome?: StepFailed;
    })
  | (CommandBase & {
      readonly type: 'ExtendHold';
      readonly requestId: string;
      readonly expiresAt: number;
      readonly reason: string;
    });

/**
 * Events of one run's budget (stream id = run id). The run stage's own go to budget.reservations
 * (its changelog); the Hold* requests go to the tenant's ledger on budget.holds.
 */
export type RunBudgetEvent =
  | GateRequestRejected
  | BudgetReserved
  | BudgetReservationRefused
  | BudgetSettled
  | BudgetReleased
  | BudgetHeld
  | BudgetHoldExtended
  | BudgetThresholdCrossed
  | HoldRequested
  | HoldSettlementRequested
  | HoldReleaseRequested
  | HoldExtensionRequested;

export type ReservationStatus = 'reserved' | 'held' | 'refused' | 'rejected' | 'settled' | 'released' | 'expired';

export interface RunReservation {
  readonly reservationId: string;
  readonly request: GateRequested;
  readonly status: ReservationStatus;
  /** What the reservation holds on the run's meters. */
  readonly charges: readonly Charge[];
  readonly ask: Ask;
  readonly expiresAt: number;
  readonly queue: 'ttl' | 'approval';
  readonly seq: number;
  /** The answer given to the request; a BudgetHeld when the tenant's ledger answers it. */
  readonly answer: BudgetReserved | BudgetReservationRefused | BudgetHeld | GateRequestRejected;
}

export interface RunBudgetState {
  /** When the run's first request was answered (0 before): time budgets count from it. */
  readonly startedAt: number;
  readonly meters: Meters;
  /** Every answered request, by reservation id. */
  readonly reservations: PMap<RunReservation>;
  /** Request id -> reservation id. */
  readonly requests: PMap<string>;
  /** Open holds in expiry order: ordinary ones, and those kept for a pending approval. */
  readonly queues: { readonly ttl: Queue; readonly approval: Queue };
  /** The run's tokens, used and held, reported on each reservation. */
  readonly tokens: { readonly used: number; readonly held: number };
}

const OPEN: readonly ReservationStatus[] = ['reserved', 'held'];

function reservationOf(state: RunBudgetState, requestId: string): RunReservation | undefined {
  const id = state.requests.get(requestId);
  return id === undefined ? undefined : state.reservations.get(id);
}

const money = (currency: string, micros: number): Money | undefined =>
  currency === '' ? undefined : create(MoneySchema, { currency, micros });

/** Releases of holds whose time is up, oldest first. */
function sweep(state: RunBudgetState, now: number): BudgetReleased[] {
  const released: BudgetReleased[] = [];
  for (const queue of [state.queues.ttl, state.queues.approval]) {
    for (const id of oldestFirst(queue)) {
      const r = state.reservations.get(id);
      if (!r || r.expiresAt > now || released.length >= SWEEP_LIMIT) break;
      released.push(
        create(BudgetReleasedSchema, {
          reservationId: r.reservationId,
          requestId: r.request.requestId,
          runId: r.request.runId,
          tenantId: r.request.tenantId,
          agentId: r.request.agentId,
          reason: `stale: no outcome before the hold expired at ${new Date(r.expiresAt).toISOString()}`,
          releasedAtMs: now,
          charges: closingCharges(
            state.meters,
            r.charges,
            'release',
            { tokens: 0, spendMicros: 0, currency: '' },
            true,
          ),
          expired: true,
          businessOutcome: r.request.businessOutcome,
        }),
      );
    }
  }
  return released;
}

function refuse(
  cmd: Extract<RunBudgetCommand, { type: 'ReserveBudget' }>,
  dimension: Dimension,
  reason: string,
  budgetId = '',
): BudgetReservationRefused {
  return create(BudgetReservationRefusedSchema, {
    reservationId: cmd.reservationId,
    request: cmd.request,
    dimension,
    reason,
    refusedAtMs: cmd.now,
    budgetId,
  });
}

/** A duplicate of an answered request: the same answer, or the ledger asked again while the hold is open. */
function duplicate(
  r: RunReservation,
  cmd: Extract<RunBudgetCommand, { type: 'ReserveBudget' | 'RejectGateRequest' }>,
): RunBudgetEvent[] {
  if (r.answer.$typeName !== BudgetHeldSchema.typeName) return [r.answer];
  if (r.status === 'held' && r.answer.forwarded) return [r.answer.forwarded];
  return [
    create(BudgetReservationRefusedSchema, {
      reservationId: r.reservationId,
      request: r.request,
      dimension: Dimension.UNSPECIFIED,
      reason: `duplicate of request ${r.request.requestId}, whose reservation is ${r.status}`,
      refusedAtMs: cmd.now,
    }),
  ];
}

function reserve(cmd: Extract<RunBudgetCommand, { type: 'ReserveBudget' }>, state: RunBudgetState): RunBudgetEvent[] {
  const r = cmd.request;
  if (cmd.killSwitchIds.length > 0) {
    return [refuse(cmd, Dimension.SCOPE, `kill switch ${cmd.killSwitchIds.join(', ')} engaged: no budget`)];
  }
  if (r.deadlineMs > 0 && cmd.now > r.deadlineMs) return [refuse(cmd, Dimension.TIME, 'deadline passed')];
  if (!Number.isFinite(r.estimatedTokens) || r.estimatedTokens < 0) {
    return [refuse(cmd, Dimension.TOKENS, `estimated tokens must be a non-negative number, got ${r.estimatedTokens}`)];
  }
  if (r.estimatedCost && (!Number.isFinite(r.estimatedCost.micros) || r.estimatedCost.micros < 0)) {
    return [
      refuse(cmd, Dimension.SPEND, `estimated cost must be a non-negative amount, got ${r.estimatedCost.micros}`),
    ];
  }
  const limits = applicableLimits(cmd.definitions, r, cmd.defaults);
  const ask = askOf(r, priceOf(cmd.definitions, r.model), cmd.riskPoints);
  const elapsed = state.startedAt > 0 ? cmd.now - state.startedAt : 0;
  const outcome = check(limits.local, ask, state.meters, cmd.now, elapsed);
  if (isRefusal(outcome)) return [refuse(cmd, outcome.dimension, outcome.reason, outcome.budgetId)];
  const expiresAt = cmd.now + cmd.ttlMs;
  const runTokens = limits.local.find((l) => l.scope === BudgetScope.RUN && l.dimension === Dimension.TOKENS);
  const shared = {
    reservationId: cmd.reservationId,
    request: r,
    approvalRequired: outcome.approvalReasons.length > 0,
    approvalReason: outcome.approvalReasons.join('; '),
    degradeHints: [...outcome.degradeHints],
    runTokensUsed: state.tokens.used + state.tokens.held + ask.tokens,
    runTokensLimit: runTokens?.limit ?? 0,
  };
  const crossings = outcome.crossings.map((c) =>
    crossingEvent(c, { reservationId: cmd.reservationId, request: r, at: cmd.now }),
  );
  if (limits.crossRun.length === 0) {
    const reserved = create(BudgetReservedSchema, {
      ...shared,
      reservedTokens: ask.tokens,
      reservedToolCalls: ask.toolCalls,
      reservedCost: money(ask.currency, ask.spendMicros),
      reservedAtMs: cmd.now,
      charges: [...outcome.charges],
      expiresAtMs: expiresAt,
      priceTableVersion: ask.priceTableVersion,
      reservedRiskPoints: ask.riskPoints,
      ask,
    });
    return [reserved, ...crossings];
  }
  const forwarded = create(HoldRequestedSchema, { ...shared, ask, requestedAtMs: cmd.now, expiresAtMs: expiresAt });
  const held = create(BudgetHeldSchema, {
    reservationId: cmd.reservationId,
    request: r,
    charges: [...outcome.charges],
    heldAtMs: cmd.now,
    expiresAtMs: expiresAt,
    ask,
    forwarded,
  });
  return [held, forwarded, ...crossings];
}

/**
 * What a step reported using, priced with the table version of its reservation (the latest when it
 * had none). A completed step without a reported cost or price counts its reserved spend; a failed
 * one counts only what it reported.
 */
function reportedUse(
  r: RunReservation,
  cmd: CommandBase,
  tokens: number,
  cost: Money | undefined,
  completed: boolean,
): Ask {
  const quote = priceOf(cmd.definitions, r.request.model, r.ask.priceTableVersion);
  const base = completed ? r.ask : create(AskSchema, { ...r.ask, spendMicros: 0, currency: '' });
  return actualOf(base, tokens, cost, quote);
}

/**
 * An outcome counts only when the agent that proved the request reports it (docs/protocol.md,
 * "Outcomes"): signed by the request proof's key, for the same tenant and agent. Returns the
 * outcome of record (proof dropped), or throws for the dead-letter topic.
 */
function acceptedOutcome<O extends StepCompleted | StepFailed>(r: RunReservation, outcome: O): O {
  const q = r.request;
  if (outcome.tenantId !== q.tenantId || outcome.agentId !== q.agentId) {
    throw invalid(
      'outcome_not_of_request',
      `the outcome names ${outcome.tenantId}/${outcome.agentId}, the request ${q.tenantId}/${q.agentId}`,
      'agentId',
    );
  }
  const jkt = proofKeyThumbprint(q.requestProof);
  const problem = jkt ? outcomeProofProblem(outcome, jkt) : undefined;
  if (problem) throw invalid('outcome_proof', problem, 'outcomeProof');
  return { ...outcome, outcomeProof: '' };
}

const actualUse = (a: Ask): Actual => ({ tokens: a.tokens, spendMicros: a.spendMicros, currency: a.currency });

function settle(cmd: Extract<RunBudgetCommand, { type: 'SettleBudget' }>, state: RunBudgetState): RunBudgetEvent[] {
  const r = reservationOf(state, cmd.requestId);
  if (!r || !['reserved', 'held', 'expired'].includes(r.status)) return [];
  const outcome = cmd.outcome && acceptedOutcome(r, cmd.outcome);
  if (!Number.isFinite(cmd.actualTokens) || cmd.actualTokens < 0) {
    throw invalid(
      'invalid_actual_tokens',
      `actual tokens must be a non-negative number, got ${cmd.actualTokens}`,
      'actualTokens',
    );
  }
  const actual = reportedUse(r, cmd, cmd.actualTokens, cmd.actualCost, true);
  const stillHeld = r.status !== 'expired';
  const charges = closingCharges(state.meters, r.charges, 'settle', actualUse(actual), stillHeld);
  const limits = applicableLimits(cmd.definitions, r.request, cmd.defaults).local;
  const settled = create(BudgetSettledSchema, {
    reservationId: r.reservationId,
    requestId: r.request.requestId,
    runId: r.request.runId,
    tenantId: r.request.tenantId,
    agentId: r.request.agentId,
    businessOutcome: r.request.businessOutcome,
    actualTokens: cmd.actualTokens,
    actualCost: money(actual.currency, actual.spendMicros),
    settledAtMs: cmd.now,
    charges,
    late: !stillHeld,
    outcome,
    idempotencyKey: r.request.idempotencyKey,
    stepId: r.request.stepId,
  });
  const events: RunBudgetEvent[] = [
    settled,
    ...crossingsOf(limits, state.meters, charges, cmd.now).map((c) =>
      crossingEvent(c, { reservationId: r.reservationId, request: r.request, at: cmd.now }),
    ),
  ];
  if (r.answer.$typeName === BudgetHeldSchema.typeName) {
    events.push(
      create(HoldSettlementRequestedSchema, {
        reservationId: r.reservationId,
        tenantId: r.request.tenantId,
        runId: r.request.runId,
        requestId: r.request.requestId,
        actual,
        requestedAtMs: cmd.now,
      }),
    );
  }
  return events;
}

function release(cmd: Extract<RunBudgetCommand, { type: 'ReleaseBudget' }>, state: RunBudgetState): RunBudgetEvent[] {
  const r = reservationOf(state, cmd.requestId);
  if (!r || !OPEN.includes(r.status)) return [];
  const outcome = cmd.outcome && acceptedOutcome(r, cmd.outcome);
  const tokens = Number.isFinite(cmd.chargedTokens) ? Math.max(0, cmd.chargedTokens) : 0;
  const charged = reportedUse(r, cmd, tokens, cmd.chargedCost, false);
  const released = create(BudgetReleasedSchema, {
    reservationId: r.reservationId,
    requestId: r.request.requestId,
    runId: r.request.runId,
    tenantId: r.request.tenantId,
    agentId: r.request.agentId,
    reason: cmd.reason,
    releasedAtMs: cmd.now,
    charges: closingCharges(state.meters, r.charges, 'release', actualUse(charged), true),
    chargedTokens: charged.tokens,
    chargedCost: money(charged.currency, charged.spendMicros),
    businessOutcome: r.request.businessOutcome,
    outcome,
  });
  if (r.answer.$typeName !== BudgetHeldSchema.typeName) return [released];
  return [
    released,
    create(HoldReleaseRequestedSchema, {
      reservationId: r.reservationId,
      tenantId: r.request.tenantId,
      runId: r.request.runId,
      requestId: r.request.requestId,
      reason: cmd.reason,
      charged,
      requestedAtMs: cmd.now,
    }),
  ];
}

function extend(cmd: Extract<RunBudgetCommand, { type: 'ExtendHold' }>, state: RunBudgetState): RunBudgetEvent[] {
  const r = reservationOf(state, cmd.requestId);
  if (!r || !OPEN.includes(r.status) || r.expiresAt >= cmd.expiresAt) return [];
  const ids = { reservationId: r.reservationId, tenantId: r.request.tenantId, runId: r.request.runId };
  const extended = create(BudgetHoldExtendedSchema, {
    ...ids,
    requestId: r.request.requestId,
    expiresAtMs: cmd.expiresAt,
    reason: cmd.reason,
    extendedAtMs: cmd.now,
  });
  if (r.answer.$typeName !== BudgetHeldSchema.typeName) return [extended];
  return [
    extended,
    create(HoldExtensionRequestedSchema, {
      ...ids,
      requestId: r.request.requestId,
      expiresAtMs: cmd.expiresAt,
      requestedAtMs: cmd.now,
    }),
  ];
}

/** The request a rejection answers, as far as it could be read. */
const rejectedRequest = (r: GateRequestRejected) =>
  create(GateRequestedSchema, { requestId: r.requestId, tenantId: r.tenantId, agentId: r.agentId, runId: r.runId });

/** Opens a reservation (reserved or held) or records a refusal or a rejection. */
function answered(
  state: RunBudgetState,
  answer: BudgetReserved | BudgetHeld | BudgetReservationRefused | GateRequestRejected,
  at: number,
) {
  const request = answer.$typeName === GateRequestRejectedSchema.typeName ? rejectedRequest(answer) : answer.request;
  const reservationId =
    answer.$typeName === GateRequestRejectedSchema.typeName ? answer.requestId : answer.reservationId;
  if (!request || state.reservations.has(reservationId) || state.requests.has(request.requestId)) return state;
  const startedAt = state.startedAt || at;
  const requests = state.requests.set(request.requestId, reservationId);
  if (
    answer.$typeName === BudgetReservationRefusedSchema.typeName ||
    answer.$typeName === GateRequestRejectedSchema.typeName
  ) {
    const refused: RunReservation = {
      reservationId,
      request,
      status: answer.$typeName === GateRequestRejectedSchema.typeName ? 'rejected' : 'refused',
      charges: [],
      ask: create(AskSchema),
      expiresAt: 0,
      queue: 'ttl',
      seq: -1,
      answer,
    };
    return { ...state, startedAt, requests, reservations: state.reservations.set(reservationId, refused) };
  }
  const ask = answer.ask ?? create(AskSchema);
  const { queue, seq } = enqueue(state.queues.ttl, answer.reservationId);
  const reservation: RunReservation = {
    reservationId: answer.reservationId,
    request,
    status: answer.$typeName === BudgetHeldSchema.typeName ? 'held' : 'reserved',
    charges: answer.charges,
    ask,
    expiresAt: answer.expiresAtMs,
    queue: 'ttl',
    seq,
    answer,
  };
  return {
    startedAt,
    requests,
    meters: applyCharges(state.meters, answer.charges, 1, at),
    reservations: state.reservations.set(answer.reservationId, reservation),
    queues: { ...state.queues, ttl: queue },
    tokens: { ...state.tokens, held: state.tokens.held + ask.tokens },
  };
}

/** Closes an open reservation with its closing charges. */
function closed(
  state: RunBudgetState,
  reservationId: string,
  status: ReservationStatus,
  charges: readonly Charge[],
  usedTokens: number,
  at: number,
): RunBudgetState {
  const r = state.reservations.get(reservationId);
  if (!r) return state;
  const late = r.status === 'expired';
  if (!OPEN.includes(r.status) && !(late && status === 'settled')) return state;
  return {
    ...state,
    meters: applyCharges(state.meters, charges, late ? 0 : -1, at),
    reservations: state.reservations.set(reservationId, { ...r, status }),
    queues: late ? state.queues : { ...state.queues, [r.queue]: dequeue(state.queues[r.queue], r.seq) },
    tokens: { used: state.tokens.used + usedTokens, held: state.tokens.held - (late ? 0 : r.ask.tokens) },
  };
}

/**
 * The budget of one run: the run stage of the gate. Each gate request is checked against every
 * run-local limit at once (run scope, tool scope per run) and either refused or charged on all of
 * them; when cross-run budgets (tool-wide, agent, tenant) also apply, the run's share is held and
 * the tenant's ledger answers. A completed step settles to its actual use, a denied, expired or
 * failed one is released, and a hold with no outcome expires after its time. A request id gets one
 * answer, given again to duplicates; evolve ignores an event it has seen, so nothing counts twice.
 */
export const runBudget: Decider<RunBudgetCommand, RunBudgetState, RunBudgetEvent> = {
  initialState: {
    startedAt: 0,
    meters: PMap.empty(),
    reservations: PMap.empty(),
    requests: PMap.empty(),
    queues: { ttl: EMPTY_QUEUE, approval: EMPTY_QUEUE },
    tokens: { used: 0, held: 0 },
  },

  decide(cmd, state) {
    const expired = sweep(state, cmd.now);
    const current = fold(runBudget.evolve, state, expired);
    switch (cmd.type) {
      case 'ReserveBudget': {
        if (cmd.request.requestId === '') {
          throw invalid('request_id_required', 'the request has no request id', 'requestId');
        }
        const earlier = reservationOf(current, cmd.request.requestId);
        return [...expired, ...(earlier ? duplicate(earlier, cmd) : reserve(cmd, current))];
      }
      case 'RejectGateRequest': {
        const earlier = cmd.rejection.requestId ? reservationOf(current, cmd.rejection.requestId) : undefined;
        return [...expired, ...(earlier ? duplicate(earlier, cmd) : [cmd.rejection])];
      }
      case 'SettleBudget':
        return [...expired, ...settle(cmd, current)];
      case 'ReleaseBudget':
        return [...expired, ...release(cmd, current)];
      case 'ExtendHold':
        return [...expired, ...extend(cmd, current)];
      default:
        return assertNever(cmd, 'command');
    }
  },

  evolve(state, event) {
    switch (event.$typeName) {
      case 'warden.budget.v1.GateRequestRejected':
        return event.requestId ? answered(state, event, event.rejectedAtMs) : state;
      case 'warden.budget.v1.BudgetReserved':
      case 'warden.budget.v1.BudgetReservationRefused':
        // The ledger's answers share this topic; the run's own share of them is its BudgetHeld.
        if (event.fromLedger) return state;
        return answered(
          state,
          event,
          event.$typeName === 'warden.budget.v1.BudgetReserved' ? event.reservedAtMs : event.refusedAtMs,
        );
      case 'warden.budget.v1.BudgetHeld':
        return answered(state, event, event.heldAtMs);
      case 'warden.budget.v1.BudgetSettled':
        return closed(state, event.reservationId, 'settled', event.charges, event.actualTokens, event.settledAtMs);
      case 'warden.budget.v1.BudgetReleased':
        return closed(
          state,
          event.reservationId,
          event.expired ? 'expired' : 'released',
          event.charges,
          event.chargedTokens,
          event.releasedAtMs,
        );
      case 'warden.budget.v1.BudgetHoldExtended': {
        const r = state.reservations.get(event.reservationId);
        if (!r || !OPEN.includes(r.status)) return state;
        const from = dequeue(state.queues[r.queue], r.seq);
        const queues = { ...state.queues, [r.queue]: from };
        const { queue, seq } = enqueue(queues.approval, r.reservationId);
        return {
          ...state,
          reservations: state.reservations.set(r.reservationId, {
            ...r,
            expiresAt: event.expiresAtMs,
            queue: 'approval',
            seq,
          }),
          queues: { ...queues, approval: queue },
        };
      }
      case 'warden.budget.v1.BudgetThresholdCrossed':
      case 'warden.budget.v1.HoldRequested':
      case 'warden.budget.v1.HoldSettlementRequested':
      case 'warden.budget.v1.HoldReleaseRequested':
      case 'warden.budget.v1.HoldExtensionRequested':
        return state;
      default:
        return assertNever(event, 'event');
    }
  },
};
