import { Decider } from './decider';
import { conflict, DomainError } from './errors';
import { given } from './given';

type Cmd = { add: number } | { fail: true };
const counter: Decider<Cmd, number, { added: number }> = {
  initialState: 0,
  decide: (cmd, state) => {
    if ('fail' in cmd) throw conflict('nope', `refused at ${state}`);
    return [{ added: cmd.add }];
  },
  evolve: (state, e) => state + e.added,
};

describe('given/when/then', () => {
  it('folds the history into the state before deciding', () => {
    expect(given(counter, [{ added: 2 }, { added: 3 }]).state).toBe(5);
    given(counter, [{ added: 2 }])
      .when({ add: 1 })
      .then([{ added: 1 }]);
  });

  it('fails when the events differ', () => {
    expect(() =>
      given(counter)
        .when({ add: 1 })
        .then([{ added: 2 }]),
    ).toThrow();
  });

  it('thenThrows returns the domain error, and fails when nothing or something else is thrown', () => {
    const error = given(counter, [{ added: 4 }])
      .when({ fail: true })
      .thenThrows('conflict', 'nope');
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toBe('refused at 4');
    expect(() => given(counter).when({ add: 1 }).thenThrows('conflict')).toThrow(/no error was thrown/);
    expect(() => given(counter).when({ fail: true }).thenThrows('invalid')).toThrow();
  });
});
