import { ActiveSwitches, RiskClass, StandingApprovalGranted } from '@warden/contracts';
import { CompiledBundle, HistoryEntry } from './bundles/api';
import { GateRegistry } from './gate-registry';
import { DecisionSigner } from './tokens';

/** A standing approval as the gate sees it (folded from approval.events and the decisions that used it). */
export interface StandingEntry {
  readonly grant: StandingApprovalGranted;
  readonly revoked: boolean;
  readonly exhausted: boolean;
  /** Decisions that used it, as far as the gate has seen them. */
  readonly uses: number;
}

/**
 * The state a decision reads besides its own run: tables folded from Kafka (registry, kill
 * switches, bundles, standing approvals, outcomes, agent history), the signer, and settings.
 * The processor builds it from its tables; tests and replay build it by hand. `versions` are the
 * tables' positions, recorded in every decision so it can be re-evaluated.
 */
export interface GateView {
  readonly registry: GateRegistry;
  readonly switches: ActiveSwitches;
  /** The tenant's active bundle at the decision time, if any. */
  bundleFor(tenantId: string, now: number): CompiledBundle | undefined;
  readonly standing: ReadonlyMap<string, StandingEntry>;
  /** The request id whose StepCompleted completed this idempotency key, if any. */
  completedBy(tenantId: string, idempotencyKey: string): string | undefined;
  /** The agent's earlier allowed steps within the history horizon, oldest first. */
  agentHistory(tenantId: string, agentId: string): readonly HistoryEntry[];
  /** Opens the active decision-token key; undefined when there is none (allow then fails closed). */
  readonly signer: DecisionSigner | undefined;
  readonly settings: GateSettings;
  readonly versions: {
    readonly registry: number;
    readonly killswitch: number;
    readonly activity: number;
    readonly bundles: number;
    /** How far the registry, kill-switch and bundle tables had read (per topic, next offset per partition). */
    readonly positions?: readonly { readonly topic: string; readonly nextOffsets: readonly number[] }[];
  };
}

export interface GateSettings {
  /** Lifetime of a decision token, ms. */
  readonly decisionTokenTtlMs: number;
  /** `required`: a request without an agent token is denied. `optional`: only a present token is checked. */
  readonly agentTokens: 'required' | 'optional';
  /**
   * Replay re-evaluates requests of record, whose token the gate verified and dropped (keeping its
   * id): their signature check counts as passed. Never set on the live path.
   */
  readonly recordedRequests?: boolean;
}

/** Base risk points of a contract action's risk class; the score is this plus the rules' risk. */
export const RISK_BASE: Readonly<Record<RiskClass, number>> = {
  [RiskClass.UNSPECIFIED]: 0,
  [RiskClass.LOW]: 10,
  [RiskClass.MEDIUM]: 30,
  [RiskClass.HIGH]: 60,
  [RiskClass.CRITICAL]: 90,
};

/** The risk class of a score: below 25 low, below 50 medium, below 80 high, else critical. */
export function classOfScore(score: number): RiskClass {
  if (score >= 80) return RiskClass.CRITICAL;
  if (score >= 50) return RiskClass.HIGH;
  if (score >= 25) return RiskClass.MEDIUM;
  return RiskClass.LOW;
}
