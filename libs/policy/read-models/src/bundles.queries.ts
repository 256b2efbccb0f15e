import { DataSource } from 'typeorm';
import { BundleVersionRow } from './bundles.projection';

export async function listBundleVersions(db: DataSource, tenantId: string): Promise<BundleVersionRow[]> {
  return db.query(
    `SELECT id, tenant_id, bundle_id, version, digest, description, published_by, published_at, activations,
            jsonb_array_length(rules) AS rule_count, jsonb_array_length(tests) AS test_count
       FROM policy.bundle_versions WHERE tenant_id = $1 ORDER BY published_at, version`,
    [tenantId],
  );
}

export async function getBundleVersion(
  db: DataSource,
  tenantId: string,
  version: string,
): Promise<BundleVersionRow | undefined> {
  const rows: BundleVersionRow[] = await db.query(
    `SELECT * FROM policy.bundle_versions WHERE tenant_id = $1 AND version = $2`,
    [tenantId, version],
  );
  return rows[0];
}

/** Agreements and flips of a shadow version against the active bundle, overall and by rule. */
export interface ShadowReport {
  readonly shadowVersion: string;
  readonly evaluated: number;
  readonly agreed: number;
  readonly flipped: number;
  readonly byTransition: Readonly<Record<string, number>>;
  /** Per rule: decisions where the rule's result differed, split by whether the bundle verdict flipped. */
  readonly byRule: readonly { readonly ruleId: string; readonly flips: number; readonly agreements: number }[];
  readonly recentFlips: readonly Record<string, unknown>[];
}

export async function shadowReport(db: DataSource, tenantId: string, shadowVersion: string): Promise<ShadowReport> {
  const args = [tenantId, shadowVersion];
  const [totals] = await db.query(
    `SELECT count(*)::int AS evaluated, count(*) FILTER (WHERE flipped)::int AS flipped
       FROM policy.shadow_decisions WHERE tenant_id = $1 AND shadow_version = $2`,
    args,
  );
  const transitions: { transition: string; n: number }[] = await db.query(
    `SELECT active_effect || '->' || shadow_effect AS transition, count(*)::int AS n
       FROM policy.shadow_decisions WHERE tenant_id = $1 AND shadow_version = $2 AND flipped
      GROUP BY 1 ORDER BY 1`,
    args,
  );
  const byRule: { ruleId: string; flips: number; agreements: number }[] = await db.query(
    `SELECT rule AS "ruleId", count(*) FILTER (WHERE flipped)::int AS flips, count(*) FILTER (WHERE NOT flipped)::int AS agreements
       FROM policy.shadow_decisions, jsonb_array_elements_text(flipped_rules) AS rule
      WHERE tenant_id = $1 AND shadow_version = $2 GROUP BY rule ORDER BY flips DESC, rule`,
    args,
  );
  const recentFlips = await db.query(
    `SELECT request_id AS "requestId", decision_id AS "decisionId", agent_id AS "agentId", live_verdict AS "liveVerdict",
            active_version AS "activeVersion", active_effect AS "from", shadow_effect AS "to", flipped_rules AS rules,
            decided_at AS "decidedAt"
       FROM policy.shadow_decisions WHERE tenant_id = $1 AND shadow_version = $2 AND flipped
      ORDER BY decided_at DESC LIMIT 100`,
    args,
  );
  return {
    shadowVersion,
    evaluated: totals.evaluated,
    agreed: totals.evaluated - totals.flipped,
    flipped: totals.flipped,
    byTransition: Object.fromEntries(transitions.map((t) => [t.transition, t.n])),
    byRule,
    recentFlips,
  };
}
