import type { Request } from 'express';
import { Table } from '@warden/platform';
import { AgentKeys } from './agent-keys';
import { authenticateAgent, AuthenticatedAgent, DpopRules, SeenProofs } from './agent-auth';
import { Gateway } from './gateway';

export const GATEWAY_EDGE = Symbol('warden.gateway.edge');

/** What the HTTP controllers use: the gateway, and the authentication of each call. */
export class GatewayEdge {
  private readonly seen = new SeenProofs();

  constructor(
    readonly gateway: Gateway,
    private readonly keys: Table<AgentKeys>,
    private readonly rules: DpopRules,
  ) {}

  authenticate(req: Request): AuthenticatedAgent {
    return authenticateAgent(
      {
        authorization: req.headers.authorization,
        dpop: header(req, 'dpop'),
        method: req.method,
        path: req.originalUrl.split('?')[0],
      },
      this.keys.state,
      this.rules,
      this.seen,
      Date.now(),
    );
  }
}

export function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Prefer: wait=<seconds>` (RFC 7240): how long to wait past a pending_approval for the final decision. */
export function preferWaitMs(req: Request): number {
  const m = /(?:^|[,;\s])wait=(\d{1,6})(?:$|[,;\s])/.exec(header(req, 'prefer') ?? '');
  return m ? Number(m[1]) * 1000 : 0;
}
