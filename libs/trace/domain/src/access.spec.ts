import { DomainError } from '@warden/kernel';
import { assertOperator, readableTenant } from './access';

const failure = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return {
      kind: (error as DomainError).kind,
      code: (error as DomainError).code,
      field: (error as DomainError).field,
    };
  }
  throw new Error('expected a DomainError');
};

describe('trace access', () => {
  it('lets auditors, admins, SREs and owners read their own tenant', () => {
    for (const role of ['auditor', 'admin', 'sre', 'owner']) {
      expect(readableTenant({ roles: [role], tenantId: 'acme' })).toBe('acme');
    }
  });

  it('refuses other roles, and callers without a tenant', () => {
    expect(failure(() => readableTenant({ roles: ['approver'], tenantId: 'acme' }))).toEqual({
      kind: 'forbidden',
      code: 'not_a_reader',
      field: undefined,
    });
    expect(failure(() => readableTenant({ roles: ['auditor'], tenantId: '' }))).toEqual({
      kind: 'invalid',
      code: 'missing_tenant',
      field: 'tenant',
    });
  });

  it('lets only SREs and admins operate projections', () => {
    expect(() => assertOperator({ roles: ['sre'], tenantId: '' })).not.toThrow();
    expect(() => assertOperator({ roles: ['owner', 'admin'], tenantId: '' })).not.toThrow();
    expect(failure(() => assertOperator({ roles: ['auditor', 'owner'], tenantId: 'acme' }))).toMatchObject({
      kind: 'forbidden',
      code: 'not_an_operator',
    });
  });
});
