import { Verdict } from '@warden/contracts';
import { supersedes, VERDICT_NAMES, verdictName } from './verdicts';

describe('verdicts', () => {
  it('names verdicts in snake case, and unknown ones by number', () => {
    expect(verdictName(Verdict.PENDING_APPROVAL)).toBe('pending_approval');
    expect(verdictName(99 as Verdict)).toBe('unknown_99');
    expect(VERDICT_NAMES).toEqual(['allow', 'deny', 'pending_approval', 'expired', 'already_completed']);
  });

  it('keeps the first decision unless it is pending and the next is final', () => {
    expect(supersedes(null, 'pending_approval')).toBe(true);
    expect(supersedes(undefined, 'deny')).toBe(true);
    expect(supersedes('pending_approval', 'allow')).toBe(true);
    expect(supersedes('pending_approval', 'pending_approval')).toBe(false);
    expect(supersedes('allow', 'deny')).toBe(false);
    expect(supersedes('allow', 'pending_approval')).toBe(false);
  });
});
