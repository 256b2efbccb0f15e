import { DomainError } from '@warden/kernel';
import { pageLimit, runFilter } from './run-filter';

const field = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return `${(error as DomainError).code}@${(error as DomainError).field}`;
  }
  throw new Error('expected a DomainError');
};

describe('run filter', () => {
  it('reads agent, verdict, time range and limit', () => {
    expect(
      runFilter({ agentId: 'bot', verdict: 'deny', from: '2025-01-01T00:00:00Z', to: '1735693200000', limit: '5' }),
    ).toEqual({ agentId: 'bot', verdict: 'deny', fromMs: Date.UTC(2025, 0, 1), toMs: 1735693200000, limit: 5 });
    expect(runFilter({})).toEqual({ limit: 100 });
  });

  it('names the parameter at fault', () => {
    expect(field(() => runFilter({ verdict: 'maybe' }))).toBe('invalid_verdict@verdict');
    expect(field(() => runFilter({ from: 'yesterday' }))).toBe('invalid_time@from');
    expect(field(() => runFilter({ to: '99999999999999999' }))).toBe('invalid_time@to');
    expect(field(() => runFilter({ from: '2025-01-02T00:00:00Z', to: '2025-01-01T00:00:00Z' }))).toBe(
      'invalid_range@to',
    );
    expect(field(() => runFilter({ agentId: ['a', 'b'] }))).toBe('invalid_parameter@agentId');
    expect(field(() => pageLimit({ limit: '0' }, 10))).toBe('invalid_limit@limit');
    expect(field(() => pageLimit({ limit: '1001' }, 10))).toBe('invalid_limit@limit');
    expect(field(() => pageLimit({ limit: '2.5' }, 10))).toBe('invalid_limit@limit');
  });
});
