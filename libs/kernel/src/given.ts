import { deepStrictEqual, fail } from 'node:assert';
import { Decider, fold } from './decider';
import { DomainError, DomainErrorKind } from './errors';

/**
 * given(events).when(command).then(events): the shape of every decider test.
 * Uses node:assert, so it works under any test runner and has no runtime dependency.
 */
export function given<C, S, E>(decider: Decider<C, S, E>, history: readonly E[] = []) {
  const state = fold(decider.evolve, decider.initialState, history);
  return {
    state,
    when(command: C) {
      const run = () => decider.decide(command, state);
      return {
        then(expected: readonly E[]): readonly E[] {
          const actual = run();
          deepStrictEqual(actual, expected);
          return actual;
        },
        thenEvents(): readonly E[] {
          return run();
        },
        thenThrows(kind: DomainErrorKind, code?: string): DomainError {
          try {
            run();
          } catch (error) {
            if (!(error instanceof DomainError)) throw error;
            deepStrictEqual({ kind: error.kind, code: code ?? error.code }, { kind, code: code ?? error.code });
            return error;
          }
          return fail(`expected a ${kind} domain error${code ? ` (${code})` : ''}, but no error was thrown`);
        },
      };
    },
  };
}
