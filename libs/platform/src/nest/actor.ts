import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { DomainError, unauthenticated } from '@warden/kernel';
import type { NextFunction, Request, Response } from 'express';
import { AdminAuthenticator, Authentication, Caller } from '../auth/admin-auth';

export type { Caller } from '../auth/admin-auth';

const AUTHENTICATION = Symbol('warden.authentication');
type AuthenticatedRequest = Request & { [AUTHENTICATION]?: Authentication };

/**
 * Express middleware (installed by runService for every service): verifies the request's bearer
 * token once, before routing, and keeps the outcome on the request for `@CallerOf()`. Routes that
 * do not ask for a caller (health, metrics, JWKS, the agent token endpoint) are not affected.
 */
export function authenticate(authenticator: AdminAuthenticator) {
  return (req: AuthenticatedRequest, _res: Response, next: NextFunction): void => {
    const header = req.headers.authorization;
    if (!header) {
      req[AUTHENTICATION] = { error: unauthenticated('missing_token', 'an Authorization: Bearer <token> is required') };
      next();
      return;
    }
    authenticator.authenticate(header).then(
      (caller) => {
        req[AUTHENTICATION] = { caller };
        next();
      },
      (error: unknown) => {
        req[AUTHENTICATION] = {
          error: error instanceof DomainError ? error : unauthenticated('invalid_token', 'bad token'),
        };
        next();
      },
    );
  };
}

/**
 * The caller of an admin API, from the bearer token verified by `authenticate` (ADR 0010):
 * `sub`, `roles` and `tenant` claims. No, a bad or an expired token is a 401 problem.
 */
export const CallerOf = createParamDecorator((_data: unknown, ctx: ExecutionContext): Caller => {
  const outcome = ctx.switchToHttp().getRequest<AuthenticatedRequest>()[AUTHENTICATION];
  if (!outcome) throw unauthenticated('missing_token', 'an Authorization: Bearer <token> is required');
  if ('error' in outcome) throw outcome.error;
  return outcome.caller;
});
