import { DomainError } from '@warden/kernel';
import { readableTenant } from './task-access';

describe('who may read approval tasks', () => {
  it('approvers, admins, owners and auditors read their own tenant', () => {
    for (const role of ['approver', 'admin', 'owner', 'auditor']) {
      expect(readableTenant({ tenantId: 'acme', roles: [role] })).toBe('acme');
    }
  });

  it('refuses other roles, and a reader without a tenant', () => {
    expect(() => readableTenant({ tenantId: 'acme', roles: ['sre'] })).toThrow(
      expect.objectContaining({ kind: 'forbidden', code: 'role_required' }),
    );
    expect(() => readableTenant({ tenantId: 'acme', roles: [] })).toThrow(DomainError);
    expect(() => readableTenant({ tenantId: '', roles: ['approver'] })).toThrow(
      expect.objectContaining({ kind: 'invalid', code: 'missing_tenant', field: 'tenant' }),
    );
  });
});
