import {
  ActionKind,
  BudgetReleased,
  BudgetReleasedSchema,
  BudgetReservationRefused,
  BudgetReservationRefusedSchema,
  BudgetReserved,
  BudgetReservedSchema,
  BudgetSettled,
  BudgetSettledSchema,
  create,
  Dimension,
  GateRequested,
  Money,
} from '@warden/contracts';
import { assertNever, Decider, invalid } from '@warden/kernel';

/** Run-scope limits per dimension; 0 means unlimited. */
export interface RunLimits {
  readonly tokens: number;
  readonly toolCalls: number;
}

export type RunBudgetCommand =
  | {
      readonly type: 'ReserveBudget';
      readonly request: GateRequested;
      readonly reservationId: string;
      readonly now: number;
      readonly limits: RunLimits;
      /** Kill switches in force whose scope covers the request: a killed scope has zero budget. */
      readonly killSwitchIds: readonly string[];
    }
  | {
      readonly type: 'SettleBudget';
      readonly requestId: string;
      readonly actualTokens: number;
      readonly actualCost: Money | undefined;
      readonly now: number;
    }
  | {
      readonly type: 'ReleaseBudget';
      readonly requestId: string;
      readonly reason: string;
      readonly now: number;
    };

/** Events of one run's budget (stream id = run id), in wire form, on budget.reservations. */
export type RunBudgetEvent = BudgetReserved | BudgetReservationRefused | BudgetSettled | BudgetReleased;

/** How much of one dimension the run has used (settled) and holds (reserved, not yet settled). */
export interface Meter {
  readonly used: number;
  readonly reserved: number;
}

export interface Reservation {
  readonly reservationId: string;
  readonly requestId: string;
  readonly status: 'reserved' | 'refused' | 'settled' | 'released';
  /** Tokens held while reserved; the actual tokens once settled. */
  readonly tokens: number;
  readonly toolCalls: number;
  /** The answer given to the request, given again to a duplicate of it. */
  readonly answer: BudgetReserved | BudgetReservationRefused;
}

export interface RunBudgetState {
  readonly tokens: Meter;
  readonly toolCalls: Meter;
  /** Every answered request, by reservation id. */
  readonly reservations: ReadonlyMap<string, Reservation>;
  /** Request id -> reservation id. */
  readonly requests: ReadonlyMap<string, string>;
}

const EMPTY: Meter = { used: 0, reserved: 0 };

/** What a request asks of each dimension. */
interface Ask {
  readonly tokens: number;
  readonly toolCalls: number;
}

interface Refusal {
  readonly dimension: Dimension;
  readonly reason: string;
}

function askOf(request: GateRequested): Ask {
  return { tokens: request.estimatedTokens, toolCalls: request.actionKind === ActionKind.TOOL_CALL ? 1 : 0 };
}

/** One dimension's check: would used + reserved + asked exceed the limit (0 = unlimited)? */
function exceeds(name: string, meter: Meter, asked: number, limit: number): string | undefined {
  const held = meter.used + meter.reserved;
  if (limit === 0 || held + asked <= limit) return undefined;
  return `run ${name} budget exceeded: ${held} used or reserved + ${asked} requested > limit ${limit}`;
}

/** Why the request gets no budget, checked in order: kill switch, deadline, estimate, each dimension. */
function refusalOf(
  cmd: Extract<RunBudgetCommand, { type: 'ReserveBudget' }>,
  state: RunBudgetState,
  ask: Ask,
): Refusal | undefined {
  const r = cmd.request;
  if (cmd.killSwitchIds.length > 0) {
    return { dimension: Dimension.SCOPE, reason: `kill switch ${cmd.killSwitchIds.join(', ')} engaged: no budget` };
  }
  if (r.deadlineMs > 0 && cmd.now > r.deadlineMs) return { dimension: Dimension.TIME, reason: 'deadline passed' };
  if (!Number.isFinite(ask.tokens) || ask.tokens < 0) {
    return { dimension: Dimension.TOKENS, reason: `estimated tokens must be a non-negative number, got ${ask.tokens}` };
  }
  const tokens = exceeds('token', state.tokens, ask.tokens, cmd.limits.tokens);
  if (tokens) return { dimension: Dimension.TOKENS, reason: tokens };
  const toolCalls = exceeds('tool-call', state.toolCalls, ask.toolCalls, cmd.limits.toolCalls);
  if (toolCalls) return { dimension: Dimension.TOOL_CALLS, reason: toolCalls };
  return undefined;
}

function open(state: RunBudgetState, requestId: string): Reservation | undefined {
  const id = state.requests.get(requestId);
  const reservation = id === undefined ? undefined : state.reservations.get(id);
  return reservation?.status === 'reserved' ? reservation : undefined;
}

/** Changes the meters and the reservation's record; used by evolve only. */
function apply(state: RunBudgetState, reservation: Reservation, tokens: Meter, toolCalls: Meter): RunBudgetState {
  return {
    tokens,
    toolCalls,
    reservations: new Map(state.reservations).set(reservation.reservationId, reservation),
    requests: new Map(state.requests).set(reservation.requestId, reservation.reservationId),
  };
}

/**
 * The budget of one run: reserve on a gate request, settle to the actual use when the step
 * completes, release when the request is denied, expires or fails. A request id gets one
 * answer, given again to duplicates; evolve ignores an event for a reservation it already has,
 * so nothing is counted twice.
 */
export const runBudget: Decider<RunBudgetCommand, RunBudgetState, RunBudgetEvent> = {
  initialState: { tokens: EMPTY, toolCalls: EMPTY, reservations: new Map(), requests: new Map() },

  decide(cmd, state) {
    switch (cmd.type) {
      case 'ReserveBudget': {
        const r = cmd.request;
        if (r.requestId === '') throw invalid('request_id_required', 'the request has no request id', 'requestId');
        const earlier = state.requests.get(r.requestId);
        if (earlier !== undefined) return [state.reservations.get(earlier)!.answer];
        const ask = askOf(r);
        const refusal = refusalOf(cmd, state, ask);
        if (refusal) {
          return [
            create(BudgetReservationRefusedSchema, {
              reservationId: cmd.reservationId,
              request: r,
              dimension: refusal.dimension,
              reason: refusal.reason,
              refusedAtMs: cmd.now,
            }),
          ];
        }
        return [
          create(BudgetReservedSchema, {
            reservationId: cmd.reservationId,
            request: r,
            reservedTokens: ask.tokens,
            reservedToolCalls: ask.toolCalls,
            reservedCost: r.estimatedCost,
            reservedAtMs: cmd.now,
            runTokensUsed: state.tokens.used + state.tokens.reserved + ask.tokens,
            runTokensLimit: cmd.limits.tokens,
          }),
        ];
      }
      case 'SettleBudget': {
        const reservation = open(state, cmd.requestId);
        if (!reservation) return [];
        if (!Number.isFinite(cmd.actualTokens) || cmd.actualTokens < 0) {
          throw invalid(
            'invalid_actual_tokens',
            `actual tokens must be a non-negative number, got ${cmd.actualTokens}`,
            'actualTokens',
          );
        }
        return [
          create(BudgetSettledSchema, {
            reservationId: reservation.reservationId,
            requestId: reservation.requestId,
            runId: reservation.answer.request?.runId ?? '',
            actualTokens: cmd.actualTokens,
            actualCost: cmd.actualCost,
            settledAtMs: cmd.now,
          }),
        ];
      }
      case 'ReleaseBudget': {
        const reservation = open(state, cmd.requestId);
        if (!reservation) return [];
        return [
          create(BudgetReleasedSchema, {
            reservationId: reservation.reservationId,
            requestId: reservation.requestId,
            runId: reservation.answer.request?.runId ?? '',
            reason: cmd.reason,
            releasedAtMs: cmd.now,
          }),
        ];
      }
      default:
        return assertNever(cmd, 'command');
    }
  },

  evolve(state, event) {
    switch (event.$typeName) {
      case 'warden.budget.v1.BudgetReserved':
      case 'warden.budget.v1.BudgetReservationRefused': {
        const requestId = event.request?.requestId ?? '';
        if (state.reservations.has(event.reservationId) || state.requests.has(requestId)) return state;
        if (event.$typeName === 'warden.budget.v1.BudgetReservationRefused') {
          const refused: Reservation = {
            reservationId: event.reservationId,
            requestId,
            status: 'refused',
            tokens: 0,
            toolCalls: 0,
            answer: event,
          };
          return apply(state, refused, state.tokens, state.toolCalls);
        }
        const reserved: Reservation = {
          reservationId: event.reservationId,
          requestId,
          status: 'reserved',
          tokens: event.reservedTokens,
          toolCalls: event.reservedToolCalls,
          answer: event,
        };
        return apply(
          state,
          reserved,
          { ...state.tokens, reserved: state.tokens.reserved + event.reservedTokens },
          { ...state.toolCalls, reserved: state.toolCalls.reserved + event.reservedToolCalls },
        );
      }
      case 'warden.budget.v1.BudgetSettled': {
        const r = state.reservations.get(event.reservationId);
        if (r?.status !== 'reserved') return state;
        return apply(
          state,
          { ...r, status: 'settled', tokens: event.actualTokens },
          { used: state.tokens.used + event.actualTokens, reserved: state.tokens.reserved - r.tokens },
          { used: state.toolCalls.used + r.toolCalls, reserved: state.toolCalls.reserved - r.toolCalls },
        );
      }
      case 'warden.budget.v1.BudgetReleased': {
        const r = state.reservations.get(event.reservationId);
        if (r?.status !== 'reserved') return state;
        return apply(
          state,
          { ...r, status: 'released' },
          { ...state.tokens, reserved: state.tokens.reserved - r.tokens },
          { ...state.toolCalls, reserved: state.toolCalls.reserved - r.toolCalls },
        );
      }
      default:
        return assertNever(event, 'event');
    }
  },
};
