import { forbidden, invalid } from '@warden/kernel';

/** Roles that may read the approval queue of their tenant. */
export const APPROVAL_READER_ROLES = ['approver', 'admin', 'owner', 'auditor'] as const;

/** Who reads approval tasks: the tenant they belong to and their roles. */
export interface TaskReader {
  readonly tenantId: string;
  readonly roles: readonly string[];
}

/** The tenant whose tasks the reader may see; refuses readers without a tenant or a reader role. */
export function readableTenant(reader: TaskReader): string {
  if (!reader.roles.some((r) => (APPROVAL_READER_ROLES as readonly string[]).includes(r))) {
    throw forbidden(
      'role_required',
      `reading approval tasks needs one of the roles ${APPROVAL_READER_ROLES.join(', ')}`,
    );
  }
  if (reader.tenantId === '') throw invalid('missing_tenant', "the caller's token carries no tenant claim", 'tenant');
  return reader.tenantId;
}
