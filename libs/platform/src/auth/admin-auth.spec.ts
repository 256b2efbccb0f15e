import { AdminAuthenticator } from './admin-auth';
import { DEV_AUDIENCE, DEV_ISSUER, devAuthEnv, devToken } from './dev-issuer';

describe('admin authentication: the caller a token names', () => {
  const auth = new AdminAuthenticator({
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    jwks: JSON.parse(devAuthEnv().WARDEN_AUTH_JWKS),
  });

  it("carries the token's email claim when it has one, and none otherwise", async () => {
    const withEmail = await devToken({ subject: 'u-1', roles: ['approver'], tenant: 'acme', email: 'Ann@Example.com' });
    await expect(auth.authenticate(`Bearer ${withEmail}`)).resolves.toEqual({
      subject: 'u-1',
      roles: ['approver'],
      tenantId: 'acme',
      email: 'Ann@Example.com',
    });
    const without = await devToken({ subject: 'ann', roles: ['approver'], tenant: 'acme' });
    const caller = await auth.authenticate(`Bearer ${without}`);
    expect(caller).toEqual({ subject: 'ann', roles: ['approver'], tenantId: 'acme' });
    expect('email' in caller).toBe(false);
  });
});
