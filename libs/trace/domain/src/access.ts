import { forbidden, invalid } from '@warden/kernel';

/** Who is asking, as the HTTP shell reads it. */
export interface TraceCaller {
  readonly roles: readonly string[];
  readonly tenantId: string;
}

const READERS = ['auditor', 'admin', 'sre', 'owner'];
const OPERATORS = ['sre', 'admin'];

/** The tenant whose traces the caller may read: auditors, admins, SREs and owners read their own tenant. */
export function readableTenant(caller: TraceCaller): string {
  if (!caller.roles.some((r) => READERS.includes(r))) {
    throw forbidden('not_a_reader', `reading traces needs one of the roles ${READERS.join(', ')}`);
  }
  if (!caller.tenantId) throw invalid('missing_tenant', "the caller's token carries no tenant claim", 'tenant');
  return caller.tenantId;
}

/** Operating projections (status, rebuild) is for SREs and admins. */
export function assertOperator(caller: TraceCaller): void {
  if (!caller.roles.some((r) => OPERATORS.includes(r))) {
    throw forbidden('not_an_operator', `operating trace needs one of the roles ${OPERATORS.join(', ')}`);
  }
}
