import { DomainError } from '@warden/kernel';
import { requestQuery } from './run-filter';

describe('request query', () => {
  it('reads run, agent, verdict, time range and limit', () => {
    expect(requestQuery({ runId: 'r', agentId: 'a', verdict: 'allow', from: '1', to: '2', limit: '3' })).toEqual({
      runId: 'r',
      agentId: 'a',
      verdict: 'allow',
      fromMs: 1,
      toMs: 2,
      limit: 3,
    });
  });

  it('names the parameter at fault', () => {
    try {
      requestQuery({ runId: ['a', 'b'] });
      throw new Error('expected a DomainError');
    } catch (error) {
      expect((error as DomainError).field).toBe('runId');
    }
  });
});
