import { DomainError, DomainErrorKind } from '@warden/kernel';

/** RFC 9457 problem details. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code?: string;
  /** The input field at fault, as a JSON pointer-ish path (e.g. `scope.tenantId`). */
  readonly field?: string;
  readonly instance?: string;
}

const STATUS: Record<DomainErrorKind, { status: number; title: string }> = {
  invalid: { status: 400, title: 'Invalid request' },
  not_found: { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict' },
  forbidden: { status: 403, title: 'Forbidden' },
  unauthenticated: { status: 401, title: 'Unauthorized' },
};

/** The one place where domain errors become HTTP problems. */
export function problemOf(error: DomainError, instance?: string): Problem {
  const { status, title } = STATUS[error.kind];
  return {
    type: `https://warden.dev/problems/${error.code.replace(/_/g, '-')}`,
    title,
    status,
    detail: error.message,
    code: error.code,
    field: error.field,
    instance,
  };
}
