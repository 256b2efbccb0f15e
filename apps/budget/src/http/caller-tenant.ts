import { invalid } from '@warden/kernel';
import { Caller } from '@warden/platform/nest';

/** The caller's tenant: every budget API is scoped to it. */
export function callerTenant(caller: Caller): string {
  if (!caller.tenantId) throw invalid('missing_tenant', "the caller's token carries no tenant claim", 'tenant');
  return caller.tenantId;
}
