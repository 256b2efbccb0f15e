import { DomainError } from './errors';
import { actsOn, holds, ownTenant, PERMISSIONS, requireRole, requireTenant, ROLE_MEANINGS, ROLES } from './roles';

const failure = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    const { kind, code, field, message } = error as DomainError;
    return { kind, code, field, message };
  }
  throw new Error('expected a DomainError');
};

describe('roles: one meaning each, in every service', () => {
  it('every permission names known roles, and every role has a meaning', () => {
    for (const { roles } of Object.values(PERMISSIONS))
      for (const role of roles) expect(ROLES as readonly string[]).toContain(role);
    expect(Object.keys(ROLE_MEANINGS).sort()).toEqual([...ROLES].sort());
  });

  it("requireRole passes a holder of one of the permission's roles, and names them when it refuses", () => {
    expect(() => requireRole({ roles: ['owner'] }, 'registry.agents.write')).not.toThrow();
    expect(failure(() => requireRole({ roles: ['sre', 'auditor'] }, 'registry.agents.write'))).toEqual({
      kind: 'forbidden',
      code: 'role_required',
      field: undefined,
      message: 'registering, changing or activating an agent needs one of the roles admin, owner',
    });
    expect(holds({ roles: [] }, 'tenant.read')).toBe(false);
  });

  it("a tenant's admin is no platform-admin: what spans tenants needs platform-admin", () => {
    for (const permission of ['registry.keys.write', 'trace.operate', 'tenant.cross'] as const) {
      expect(PERMISSIONS[permission].roles).toEqual(['platform-admin']);
      expect(holds({ roles: ['admin', 'owner', 'approver', 'sre', 'auditor'] }, permission)).toBe(false);
    }
  });

  it('acts on its own tenant only; another tenant or every tenant (no tenant) needs platform-admin', () => {
    const admin = { roles: ['admin'], tenantId: 'acme' };
    const platform = { roles: ['platform-admin'], tenantId: '' };
    expect(actsOn(admin, 'acme')).toBe(true);
    expect(actsOn(admin, 'globex')).toBe(false);
    expect(actsOn(admin, '')).toBe(false);
    expect(actsOn({ roles: ['admin'], tenantId: '' }, '')).toBe(false);
    expect(actsOn(platform, 'globex') && actsOn(platform, '')).toBe(true);
    expect(failure(() => requireTenant(admin, 'globex', 'engaging a kill switch'))).toMatchObject({
      code: 'platform_admin_required',
      message: 'engaging a kill switch on tenant globex needs the role platform-admin',
    });
    expect(failure(() => requireTenant(admin, '', 'listing kill switches'))).toMatchObject({
      code: 'platform_admin_required',
      message: 'listing kill switches on every tenant (no tenant) needs the role platform-admin',
    });
  });

  it("ownTenant checks the role, then returns the token's tenant, which must be named", () => {
    expect(ownTenant({ roles: ['auditor'], tenantId: 'acme' }, 'trace.read')).toBe('acme');
    expect(failure(() => ownTenant({ roles: ['approver'], tenantId: 'acme' }, 'trace.read'))).toMatchObject({
      kind: 'forbidden',
      code: 'role_required',
    });
    expect(failure(() => ownTenant({ roles: ['auditor'], tenantId: '' }, 'trace.read'))).toMatchObject({
      kind: 'invalid',
      code: 'missing_tenant',
      field: 'tenant',
    });
  });
});
