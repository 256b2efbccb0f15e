import { RuleEffect, RuleInput, RuleVerdict } from './api';

/**
 * The bundle's verdict from its rule verdicts: deny beats require_approval beats allow; a rule that
 * could not be evaluated counts as deny (fail closed); when no rule matches, the bundle allows (the
 * rules restrict, the other checks of the gate admit). Used by bundle tests, shadow and what-if.
 */
export function bundleVerdict(verdicts: readonly RuleVerdict[]): RuleEffect {
  let approval = false;
  for (const v of verdicts) {
    if (v.result === 'deny' || v.result === 'error') return 'deny';
    if (v.result === 'require_approval') approval = true;
  }
  return approval ? 'require_approval' : 'allow';
}

/** The rules that matched or failed, in bundle order. */
export function firedRules(verdicts: readonly RuleVerdict[]): RuleVerdict[] {
  return verdicts.filter((v) => v.result !== 'no_match');
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** A RuleInput from a JSON subset (bundle tests, dry runs): missing parts are empty. */
export function ruleInputOf(json: Readonly<Record<string, unknown>>): RuleInput {
  const obj = (v: unknown): Readonly<Record<string, unknown>> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : EMPTY;
  const history = (v: unknown) => {
    const h = obj(v).history;
    return { history: Array.isArray(h) ? h : [] };
  };
  return {
    request: obj(json.request),
    agent: obj(json.agent),
    contract: obj(json.contract),
    action: obj(json.action),
    run: history(json.run),
    agentHistory: history(json.agentHistory ?? json.agent_history),
    now: typeof json.now === 'number' ? json.now : 0,
  };
}
