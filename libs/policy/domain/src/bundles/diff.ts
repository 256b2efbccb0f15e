import { RuleSource } from './compile';

export interface RuleChange {
  readonly ruleId: string;
  /** The fields that differ: when, effect, risk, reason, description. */
  readonly fields: readonly string[];
  readonly from: RuleSource;
  readonly to: RuleSource;
}

export interface BundleDiff {
  readonly from: string;
  readonly to: string;
  readonly added: readonly RuleSource[];
  readonly removed: readonly RuleSource[];
  readonly changed: readonly RuleChange[];
  readonly unchanged: number;
}

const FIELDS = ['when', 'effect', 'risk', 'reason', 'description'] as const;

/** Rules added, removed and changed (by rule id) from one bundle version to another. */
export function diffBundles(
  from: { readonly version: string; readonly rules: readonly RuleSource[] },
  to: { readonly version: string; readonly rules: readonly RuleSource[] },
): BundleDiff {
  const before = new Map(from.rules.map((r) => [r.id, r]));
  const after = new Map(to.rules.map((r) => [r.id, r]));
  const changed: RuleChange[] = [];
  let unchanged = 0;
  for (const rule of to.rules) {
    const old = before.get(rule.id);
    if (!old) continue;
    const fields = FIELDS.filter((f) => old[f] !== rule[f]);
    if (fields.length > 0) changed.push({ ruleId: rule.id, fields, from: old, to: rule });
    else unchanged++;
  }
  return {
    from: from.version,
    to: to.version,
    added: to.rules.filter((r) => !before.has(r.id)),
    removed: from.rules.filter((r) => !after.has(r.id)),
    changed,
    unchanged,
  };
}
