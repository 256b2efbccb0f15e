import { Window } from '@warden/contracts';

/** The windows a limit may count over, by their API name. */
export const WINDOWS = {
  run: Window.RUN,
  rolling_hour: Window.ROLLING_HOUR,
  rolling_day: Window.ROLLING_DAY,
  rolling_month: Window.ROLLING_MONTH,
  calendar_hour: Window.CALENDAR_HOUR,
  calendar_day: Window.CALENDAR_DAY,
  calendar_month: Window.CALENDAR_MONTH,
} as const;
export type WindowName = keyof typeof WINDOWS;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A rolling window keeps its usage in 60 slots of 1/60 of its length (plus the current one). */
const ROLLING_SLOTS = 60;
const ROLLING_LENGTH: Partial<Record<Window, number>> = {
  [Window.ROLLING_HOUR]: HOUR,
  [Window.ROLLING_DAY]: DAY,
  [Window.ROLLING_MONTH]: 30 * DAY,
};

/** Definitions made before windows existed carry none: they meant a run. */
export const normalWindow = (window: Window): Window => (window === Window.UNSPECIFIED ? Window.RUN : window);

export function windowName(window: Window): WindowName {
  const w = normalWindow(window);
  return (Object.keys(WINDOWS) as WindowName[]).find((name) => WINDOWS[name] === w) ?? 'run';
}

/** How long a period the window measures: two windows of one scope and dimension overlap when they share it. */
export function period(window: Window): 'run' | 'hour' | 'day' | 'month' {
  switch (normalWindow(window)) {
    case Window.ROLLING_HOUR:
    case Window.CALENDAR_HOUR:
      return 'hour';
    case Window.ROLLING_DAY:
    case Window.CALENDAR_DAY:
      return 'day';
    case Window.ROLLING_MONTH:
    case Window.CALENDAR_MONTH:
      return 'month';
    default:
      return 'run';
  }
}

export const isRolling = (window: Window) => ROLLING_LENGTH[window] !== undefined;

/** The start of the slot usage at time `t` is counted in (UTC for calendar windows; 0 for a run). */
export function slotOf(window: Window, t: number): number {
  const rolling = ROLLING_LENGTH[window];
  if (rolling !== undefined) {
    const step = rolling / ROLLING_SLOTS;
    return Math.floor(t / step) * step;
  }
  switch (window) {
    case Window.CALENDAR_HOUR:
      return Math.floor(t / HOUR) * HOUR;
    case Window.CALENDAR_DAY:
      return Math.floor(t / DAY) * DAY;
    case Window.CALENDAR_MONTH: {
      const d = new Date(t);
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    }
    default:
      return 0;
  }
}

/**
 * The earliest slot the window at time `t` counts. A rolling window counts its 60 slots before the
 * current one too, so it always covers at least its full length: usage leaves it at most one slot
 * late, never early.
 */
export function windowStart(window: Window, t: number): number {
  const rolling = ROLLING_LENGTH[window];
  if (rolling === undefined) return slotOf(window, t);
  return slotOf(window, t) - rolling;
}

/** How the window reads in a hint: "daily", "rolling-hour", "" for a run budget's own run window. */
export function windowLabel(window: Window): string {
  switch (normalWindow(window)) {
    case Window.CALENDAR_HOUR:
      return 'hourly';
    case Window.CALENDAR_DAY:
      return 'daily';
    case Window.CALENDAR_MONTH:
      return 'monthly';
    case Window.ROLLING_HOUR:
      return 'rolling-hour';
    case Window.ROLLING_DAY:
      return 'rolling-day';
    case Window.ROLLING_MONTH:
      return 'rolling-month';
    default:
      return 'per-run';
  }
}
