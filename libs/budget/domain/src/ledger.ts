import {
  AskSchema,
  BudgetHoldExtended,
  BudgetHoldExtendedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetThresholdCrossed,
  Charge,
  create,
  Dimension,
  HoldExtensionRequested,
  HoldReleaseRequested,
  HoldRequested,
  HoldSettlementRequested,
  LedgerHeld,
  LedgerHeldSchema,
  LedgerRefused,
  LedgerRefusedSchema,
  LedgerReleased,
  LedgerReleasedSchema,
  LedgerSettled,
  LedgerSettledSchema,
  MoneySchema,
} from '@warden/contracts';
import { assertNever, Decider, fold, invalid } from '@warden/kernel';
import { BudgetDefinitionState } from './budget-definition';
import { crossingEvent } from './crossing';
import { applyCharges, check, closingCharges, crossingsOf, isRefusal, Meters } from './meters';
import { PMap } from './persistent-map';
import { applicableLimits, RunDefaults } from './plan';
import { dequeue, EMPTY_QUEUE, enqueue, oldestFirst, Queue } from './queue';
import { SWEEP_LIMIT } from './run-budget';

/** How long a closed hold is remembered, so a late duplicate of its request is not held again. */
export const CLOSED_RETENTION_MS = 10 * 60_000;

interface CommandBase {
  readonly now: number;
}

export type LedgerCommand =
  | (CommandBase & {
      readonly type: 'HoldBudget';
      readonly hold: HoldRequested;
      readonly definitions: BudgetDefinitionState | undefined;
      readonly defaults: RunDefaults;
      readonly killSwitchIds: readonly string[];
    })
  | (CommandBase & {
      readonly type: 'SettleHold';
      readonly settlement: HoldSettlementRequested;
      readonly definitions: BudgetDefinitionState | undefined;
      readonly defaults: RunDefaults;
    })
  | (CommandBase & { readonly type: 'ReleaseHold'; readonly release: HoldReleaseRequested })
  | (CommandBase & { readonly type: 'ExtendHold'; readonly extension: HoldExtensionRequested });

/**
 * Events of a tenant's ledger (stream id = tenant id): its changelog on budget.ledger, and the
 * answers (BudgetReserved, BudgetReservationRefused with from_ledger) on budget.reservations, keyed
 * by the request's run.
 */
export type LedgerEvent =
  | LedgerHeld
  | LedgerRefused
  | LedgerSettled
  | LedgerReleased
  | BudgetHoldExtended
  | BudgetThresholdCrossed
  | BudgetReserved
  | BudgetReservationRefused;

export interface LedgerHold {
  readonly reservationId: string;
  readonly status: 'held' | 'refused' | 'settled' | 'released' | 'expired';
  readonly charges: readonly Charge[];
  readonly expiresAt: number;
  readonly queue: 'ttl' | 'approval';
  readonly seq: number;
  /** The answer published for the request; published again for a duplicate. */
  readonly answer: BudgetReserved | BudgetReservationRefused;
}

export interface LedgerState {
  readonly meters: Meters;
  readonly holds: PMap<LedgerHold>;
  /** Open holds in expiry order, and closed ones in the order they are forgotten. */
  readonly queues: { readonly ttl: Queue; readonly approval: Queue; readonly closed: Queue };
  /** When each closed hold closed, by reservation id. */
  readonly closedAt: PMap<number>;
  /** The seq of the last charge event (LedgerHeld, LedgerSettled, LedgerReleased). */
  readonly seq: number;
}

const ZERO = create(AskSchema);

function sweep(state: LedgerState, tenantId: string, now: number): LedgerReleased[] {
  const released: LedgerReleased[] = [];
  for (const queue of [state.queues.ttl, state.queues.approval]) {
    for (const id of oldestFirst(queue)) {
      const h = state.holds.get(id);
      if (!h || h.expiresAt > now || released.length >= SWEEP_LIMIT) break;
      const request = h.answer.request;
      released.push(
        create(LedgerReleasedSchema, {
          reservationId: h.reservationId,
          tenantId,
          requestId: request?.requestId ?? '',
          runId: request?.runId ?? '',
          reason: `stale: no outcome before the hold expired at ${new Date(h.expiresAt).toISOString()}`,
          charges: closingCharges(
            state.meters,
            h.charges,
            'release',
            { tokens: 0, spendMicros: 0, currency: '' },
            true,
          ),
          releasedAtMs: now,
          expired: true,
          seq: state.seq + released.length + 1,
        }),
      );
    }
  }
  return released;
}

function hold(cmd: Extract<LedgerCommand, { type: 'HoldBudget' }>, state: LedgerState): LedgerEvent[] {
  const h = cmd.hold;
  const request = h.request;
  if (!request || request.requestId === '' || h.reservationId === '') {
    throw invalid('request_required', 'a hold request needs the gate request and a reservation id', 'request');
  }
  const earlier = state.holds.get(h.reservationId);
  if (earlier) return [earlier.answer];
  const ids = {
    reservationId: h.reservationId,
    tenantId: request.tenantId,
    requestId: request.requestId,
    runId: request.runId,
  };
  const refused = (dimension: Dimension, reason: string, budgetId = ''): LedgerEvent[] => {
    const answer = create(BudgetReservationRefusedSchema, {
      reservationId: h.reservationId,
      request,
      dimension,
      reason,
      refusedAtMs: cmd.now,
      budgetId,
      fromLedger: true,
    });
    return [create(LedgerRefusedSchema, { ...ids, budgetId, dimension, reason, refusedAtMs: cmd.now, answer }), answer];
  };
  if (cmd.killSwitchIds.length > 0) {
    return refused(Dimension.SCOPE, `kill switch ${cmd.killSwitchIds.join(', ')} engaged: no budget`);
  }
  const ask = h.ask ?? ZERO;
  const limits = applicableLimits(cmd.definitions, request, cmd.defaults).crossRun;
  const outcome = check(limits, ask, state.meters, cmd.now);
  if (isRefusal(outcome)) return refused(outcome.dimension, outcome.reason, outcome.budgetId);
  const answer = create(BudgetReservedSchema, {
    reservationId: h.reservationId,
    request,
    reservedTokens: ask.tokens,
    reservedToolCalls: ask.toolCalls,
    reservedCost:
      ask.currency === '' ? undefined : create(MoneySchema, { currency: ask.currency, micros: ask.spendMicros }),
    reservedAtMs: cmd.now,
    runTokensUsed: h.runTokensUsed,
    runTokensLimit: h.runTokensLimit,
    approvalRequired: h.approvalRequired || outcome.approvalReasons.length > 0,
    approvalReason: [h.approvalReason, ...outcome.approvalReasons].filter((x) => x !== '').join('; '),
    degradeHints: [...h.degradeHints, ...outcome.degradeHints],
    fromLedger: true,
    expiresAtMs: h.expiresAtMs,
    priceTableVersion: ask.priceTableVersion,
    reservedRiskPoints: ask.riskPoints,
    ask,
  });
  const held = create(LedgerHeldSchema, {
    ...ids,
    agentId: request.agentId,
    charges: [...outcome.charges],
    heldAtMs: cmd.now,
    expiresAtMs: h.expiresAtMs,
    answer,
    seq: state.seq + 1,
  });
  const crossings = outcome.crossings.map((c) =>
    crossingEvent(c, { reservationId: h.reservationId, request, at: cmd.now }),
  );
  return [held, answer, ...crossings];
}

function settle(cmd: Extract<LedgerCommand, { type: 'SettleHold' }>, state: LedgerState): LedgerEvent[] {
  const s = cmd.settlement;
  const h = state.holds.get(s.reservationId);
  const request = h?.answer.request;
  if (!h || !request || (h.status !== 'held' && h.status !== 'expired')) return [];
  const actual = s.actual ?? ZERO;
  const stillHeld = h.status === 'held';
  const charges = closingCharges(
    state.meters,
    h.charges,
    'settle',
    { tokens: actual.tokens, spendMicros: actual.spendMicros, currency: actual.currency },
    stillHeld,
  );
  const limits = applicableLimits(cmd.definitions, request, cmd.defaults).crossRun;
  return [
    create(LedgerSettledSchema, {
      reservationId: h.reservationId,
      tenantId: s.tenantId,
      requestId: s.requestId,
      runId: s.runId,
      charges,
      settledAtMs: cmd.now,
      late: !stillHeld,
      seq: state.seq + 1,
    }),
    ...crossingsOf(limits, state.meters, charges, cmd.now).map((c) =>
      crossingEvent(c, { reservationId: h.reservationId, request, at: cmd.now }),
    ),
  ];
}

function release(cmd: Extract<LedgerCommand, { type: 'ReleaseHold' }>, state: LedgerState): LedgerEvent[] {
  const r = cmd.release;
  const h = state.holds.get(r.reservationId);
  if (h?.status !== 'held') return [];
  const charged = r.charged ?? ZERO;
  return [
    create(LedgerReleasedSchema, {
      reservationId: h.reservationId,
      tenantId: r.tenantId,
      requestId: r.requestId,
      runId: r.runId,
      reason: r.reason,
      charges: closingCharges(
        state.meters,
        h.charges,
        'release',
        { tokens: charged.tokens, spendMicros: charged.spendMicros, currency: charged.currency },
        true,
      ),
      releasedAtMs: cmd.now,
      seq: state.seq + 1,
    }),
  ];
}

function extend(cmd: Extract<LedgerCommand, { type: 'ExtendHold' }>, state: LedgerState): LedgerEvent[] {
  const e = cmd.extension;
  const h = state.holds.get(e.reservationId);
  if (h?.status !== 'held' || h.expiresAt >= e.expiresAtMs) return [];
  return [
    create(BudgetHoldExtendedSchema, {
      reservationId: e.reservationId,
      tenantId: e.tenantId,
      runId: e.runId,
      requestId: e.requestId,
      expiresAtMs: e.expiresAtMs,
      reason: 'approval pending',
      extendedAtMs: cmd.now,
    }),
  ];
}

/** Forgets closed holds once their retention has passed (deterministic: by the event's time). */
function forget(state: LedgerState, at: number): LedgerState {
  let { holds, closedAt } = state;
  let closed = state.queues.closed;
  for (const id of oldestFirst(state.queues.closed)) {
    const when = closedAt.get(id);
    if (when === undefined || when + CLOSED_RETENTION_MS > at) break;
    const h = holds.get(id);
    holds = holds.delete(id);
    closedAt = closedAt.delete(id);
    if (h) closed = dequeue(closed, h.seq);
  }
  return holds === state.holds ? state : { ...state, holds, closedAt, queues: { ...state.queues, closed } };
}

/** Moves a hold to its closed status and onto the closed queue. */
function close(state: LedgerState, h: LedgerHold, status: LedgerHold['status'], at: number): LedgerState {
  const open =
    h.status === 'held' ? { ...state.queues, [h.queue]: dequeue(state.queues[h.queue], h.seq) } : state.queues;
  const late = h.status === 'expired';
  const { queue, seq } = late ? { queue: open.closed, seq: h.seq } : enqueue(open.closed, h.reservationId);
  return {
    ...state,
    holds: state.holds.set(h.reservationId, { ...h, status, seq }),
    queues: { ...open, closed: queue },
    closedAt: late ? state.closedAt : state.closedAt.set(h.reservationId, at),
  };
}

function evolveLedger(state: LedgerState, event: LedgerEvent): LedgerState {
  switch (event.$typeName) {
    case 'warden.budget.v1.LedgerHeld': {
      if (state.holds.has(event.reservationId) || !event.answer) return state;
      const { queue, seq } = enqueue(state.queues.ttl, event.reservationId);
      const h: LedgerHold = {
        reservationId: event.reservationId,
        status: 'held',
        charges: event.charges,
        expiresAt: event.expiresAtMs,
        queue: 'ttl',
        seq,
        answer: event.answer,
      };
      return forget(
        {
          ...state,
          meters: applyCharges(state.meters, event.charges, 1, event.heldAtMs),
          holds: state.holds.set(h.reservationId, h),
          queues: { ...state.queues, ttl: queue },
          seq: Math.max(state.seq, event.seq),
        },
        event.heldAtMs,
      );
    }
    case 'warden.budget.v1.LedgerRefused': {
      if (state.holds.has(event.reservationId) || !event.answer) return state;
      const { queue, seq } = enqueue(state.queues.closed, event.reservationId);
      const h: LedgerHold = {
        reservationId: event.reservationId,
        status: 'refused',
        charges: [],
        expiresAt: 0,
        queue: 'ttl',
        seq,
        answer: event.answer,
      };
      return forget(
        {
          ...state,
          holds: state.holds.set(h.reservationId, h),
          queues: { ...state.queues, closed: queue },
          closedAt: state.closedAt.set(h.reservationId, event.refusedAtMs),
        },
        event.refusedAtMs,
      );
    }
    case 'warden.budget.v1.LedgerSettled': {
      const h = state.holds.get(event.reservationId);
      if (h?.status !== 'held' && h?.status !== 'expired') return state;
      const late = h.status === 'expired';
      const next = close(
        {
          ...state,
          meters: applyCharges(state.meters, event.charges, late ? 0 : -1, event.settledAtMs),
          seq: Math.max(state.seq, event.seq),
        },
        h,
        'settled',
        event.settledAtMs,
      );
      return forget(next, event.settledAtMs);
    }
    case 'warden.budget.v1.LedgerReleased': {
      const h = state.holds.get(event.reservationId);
      if (h?.status !== 'held') return state;
      const next = close(
        {
          ...state,
          meters: applyCharges(state.meters, event.charges, -1, event.releasedAtMs),
          seq: Math.max(state.seq, event.seq),
        },
        h,
        event.expired ? 'expired' : 'released',
        event.releasedAtMs,
      );
      return forget(next, event.releasedAtMs);
    }
    case 'warden.budget.v1.BudgetHoldExtended': {
      const h = state.holds.get(event.reservationId);
      if (h?.status !== 'held') return state;
      const queues = { ...state.queues, [h.queue]: dequeue(state.queues[h.queue], h.seq) };
      const { queue, seq } = enqueue(queues.approval, h.reservationId);
      return {
        ...state,
        holds: state.holds.set(h.reservationId, { ...h, expiresAt: event.expiresAtMs, queue: 'approval', seq }),
        queues: { ...queues, approval: queue },
      };
    }
    case 'warden.budget.v1.BudgetThresholdCrossed':
    case 'warden.budget.v1.BudgetReserved':
    case 'warden.budget.v1.BudgetReservationRefused':
      return state;
    default:
      return assertNever(event, 'event');
  }
}

/**
 * A tenant's ledger: the single writer of every cross-run budget of the tenant (tool-wide, agent
 * and tenant scope). All of a tenant's cross-run budgets live in one stream, so a request is
 * checked and charged against all of them at once, and two requests from different runs, agents or
 * partitions can never both take the last of a budget. It answers the gate request itself (the run
 * stage's share is already held), settles, releases and expires its holds, and remembers closed
 * holds for a while so a late duplicate gets the same answer.
 */
export const ledger: Decider<LedgerCommand, LedgerState, LedgerEvent> = {
  initialState: {
    meters: PMap.empty(),
    holds: PMap.empty(),
    queues: { ttl: EMPTY_QUEUE, approval: EMPTY_QUEUE, closed: EMPTY_QUEUE },
    closedAt: PMap.empty(),
    seq: 0,
  },

  decide(cmd, state) {
    const tenantId =
      cmd.type === 'HoldBudget'
        ? (cmd.hold.request?.tenantId ?? '')
        : cmd.type === 'SettleHold'
          ? cmd.settlement.tenantId
          : cmd.type === 'ReleaseHold'
            ? cmd.release.tenantId
            : cmd.extension.tenantId;
    const expired = sweep(state, tenantId, cmd.now);
    const current = fold(evolveLedger, state, expired);
    switch (cmd.type) {
      case 'HoldBudget':
        return [...expired, ...hold(cmd, current)];
      case 'SettleHold':
        return [...expired, ...settle(cmd, current)];
      case 'ReleaseHold':
        return [...expired, ...release(cmd, current)];
      case 'ExtendHold':
        return [...expired, ...extend(cmd, current)];
      default:
        return assertNever(cmd, 'command');
    }
  },

  evolve: evolveLedger,
};
