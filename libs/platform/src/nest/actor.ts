import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { invalid } from '@warden/kernel';
import type { Request } from 'express';

/** Who is calling: subject, roles and tenant. */
export interface Caller {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly tenantId: string;
}

const ROLES = new Set(['admin', 'owner', 'approver', 'sre', 'auditor']);

/**
 * The caller of an admin API. Until the registry issues OIDC-style tokens (issue #3), the
 * development identity comes from headers: `x-warden-subject`, `x-warden-roles` (comma
 * separated) and `x-warden-tenant`. Unknown roles are refused so typos fail loudly.
 */
export const CallerOf = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const req = ctx.switchToHttp().getRequest<Request>();
  const header = (name: string) => {
    const v = req.headers[name];
    return (Array.isArray(v) ? v[0] : (v ?? '')).trim();
  };
  const subject = header('x-warden-subject');
  if (!subject) throw invalid('missing_subject', 'header x-warden-subject is required', 'x-warden-subject');
  const roles = header('x-warden-roles')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = roles.find((r) => !ROLES.has(r));
  if (unknown) throw invalid('unknown_role', `unknown role ${unknown}`, 'x-warden-roles');
  return { subject, roles, tenantId: header('x-warden-tenant') };
});
