/**
 * A decider: the pure heart of every aggregate and process in Warden.
 * `decide` turns a command into events given the current state; `evolve` folds one event
 * into the state. Neither may read the clock, random numbers or I/O: everything they need
 * arrives in the command (including `now` and generated ids), which makes replay exact.
 */
export interface Decider<Command, State, Event> {
  readonly initialState: State;
  decide(command: Command, state: State): readonly Event[];
  evolve(state: State, event: Event): State;
}

export function fold<State, Event>(
  evolve: (state: State, event: Event) => State,
  state: State,
  events: readonly Event[],
): State {
  let next = state;
  for (const event of events) next = evolve(next, event);
  return next;
}

/** Compile-time exhaustiveness check for tagged unions; throws if reached at run time. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
