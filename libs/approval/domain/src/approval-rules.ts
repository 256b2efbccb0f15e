import { RiskClass } from '@warden/contracts';

/**
 * How tasks are governed, by risk class: the service's configuration, handed to the decider in
 * each command so that `decide` stays pure and a replay uses the rules recorded in the task.
 */
export interface ApprovalRules {
  /**
   * How long a task stays open before it expires (expiry decides deny): the default, when neither
   * the tool contract's action nor `taskTtlByRiskClass` says otherwise.
   */
  readonly taskTtlMs: number;
  /** The task TTL by risk class (APPROVAL_TASK_TTL_BY_RISK_CLASS); classes not listed use `taskTtlMs`. */
  readonly taskTtlByRiskClass?: ReadonlyMap<RiskClass, number>;
  /** How long after opening an open task escalates; 0 = never. */
  readonly escalateAfterMs: number;
  /** The roles an escalated task is sent to. */
  readonly escalateTo: readonly string[];
  /** How long a grant may be used by the policy service once given. */
  readonly grantTtlMs: number;
  /** Distinct approvers needed, by risk class; classes not listed need 1. */
  readonly quorum: ReadonlyMap<RiskClass, number>;
  /** Risk classes where the requesting subject and the agent's owner contact may not approve. */
  readonly separationOfDuties: ReadonlySet<RiskClass>;
}

export const quorumOf = (rules: ApprovalRules, riskClass: RiskClass): number =>
  Math.max(1, rules.quorum.get(riskClass) ?? 1);

/**
 * How long a task stays open (docs/adr/0116): the TTL its tool contract's action declares, else
 * the rules' TTL for its risk class, else the default `taskTtlMs`.
 */
export const taskTtlOf = (rules: ApprovalRules, riskClass: RiskClass, actionTtlMs: number): number =>
  actionTtlMs > 0 ? actionTtlMs : (rules.taskTtlByRiskClass?.get(riskClass) ?? rules.taskTtlMs);
