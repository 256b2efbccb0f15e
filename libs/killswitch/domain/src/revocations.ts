import { Scope } from '@warden/contracts';
import { KillSwitchState } from './kill-switch';

/** One entry of the revocation list tools poll: decision tokens in `scope` issued before `issuedBeforeMs` are void. */
export interface Revocation {
  readonly switchId: string;
  readonly scope: { tenantId: string; agentId: string; runId: string; tool: string };
  readonly issuedBeforeMs: number;
  readonly revokedAtMs: number;
}

const scopeView = (s: Scope | undefined) => ({
  tenantId: s?.tenantId ?? '',
  agentId: s?.agentId ?? '',
  runId: s?.runId ?? '',
  tool: s?.tool ?? '',
});

/**
 * The revocations in force at `now`: every DecisionTokensRevoked whose switch is engaged, or was
 * released (or expired) less than `retainMs` ago — longer than any decision token lives, so a token
 * issued before the switch never becomes valid again. Newest first.
 */
export function revocationList(
  switches: Iterable<KillSwitchState>,
  now: number,
  retainMs: number,
  visible: (scope: Revocation['scope']) => boolean = () => true,
): Revocation[] {
  const out: Revocation[] = [];
  for (const s of switches) {
    if (s.status === 'none' || !s.revoked) continue;
    const expiry = s.engaged.expiresAtMs || Infinity;
    const ended = Math.min(s.status === 'released' ? s.released.releasedAtMs : Infinity, expiry);
    if (ended + retainMs <= now) continue;
    const scope = scopeView(s.revoked.scope);
    if (!visible(scope)) continue;
    out.push({
      switchId: s.revoked.switchId,
      scope,
      issuedBeforeMs: s.revoked.issuedBeforeMs,
      revokedAtMs: s.revoked.revokedAtMs,
    });
  }
  return out.sort((a, b) => b.revokedAtMs - a.revokedAtMs || a.switchId.localeCompare(b.switchId));
}

/** The check a tool makes on a decision token's claims (ADR 0009: tenant, sub = agent, aud = tool, run, iat). */
export function isRevoked(
  revocations: readonly Revocation[],
  claims: { tenant: string; sub: string; aud: string; run: string; iatMs: number },
): Revocation | undefined {
  return revocations.find(
    (r) =>
      claims.iatMs < r.issuedBeforeMs &&
      (r.scope.tenantId === '' || r.scope.tenantId === claims.tenant) &&
      (r.scope.agentId === '' || r.scope.agentId === claims.sub) &&
      (r.scope.runId === '' || r.scope.runId === claims.run) &&
      (r.scope.tool === '' || r.scope.tool === claims.aud),
  );
}
