import { approvalTaskId } from './approval-ids';

describe('approvalTaskId', () => {
  it('is a pure function of tenant, run and request id, in UUID form', () => {
    const id = approvalTaskId('acme', 'run-1', 'req-1');
    expect(id).toBe(approvalTaskId('acme', 'run-1', 'req-1'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('differs for another tenant, run or request, and ids cannot be shifted between the parts', () => {
    const id = approvalTaskId('acme', 'run-1', 'req-1');
    expect(approvalTaskId('globex', 'run-1', 'req-1')).not.toBe(id);
    expect(approvalTaskId('acme', 'run-2', 'req-1')).not.toBe(id);
    expect(approvalTaskId('acme', 'run-1', 'req-2')).not.toBe(id);
    expect(approvalTaskId('acme', 'run-1r', 'eq-1')).not.toBe(approvalTaskId('acme', 'run-1', 'req-1'));
  });
});
