import { DataClass, GateRequested, GateRequestedSchema, MemoryClass, ActionKind, toJson } from '@warden/contracts';
import { CompiledBundle, RuleEffect, RuleInput, RuleVerdict } from './api';
import { bundleVerdict, firedRules } from './verdict';

const EMPTY = Object.freeze({});
const NO_HISTORY = Object.freeze({ history: Object.freeze([]) as never[] });

function short(prefix: string, name: string | undefined): string {
  return (name ?? '').replace(prefix, '').toLowerCase();
}

/**
 * The request as rules read it: GateRequested as proto3 JSON with every field present (so `request.tool`
 * never fails as a missing key), enums as short lower-case names (`tool_call`, `pii`, `durable`).
 */
export function requestJson(request: GateRequested): Record<string, unknown> {
  const json = toJson(GateRequestedSchema, request, { alwaysEmitImplicit: true }) as Record<string, unknown>;
  json.actionKind = short('ACTION_KIND_', ActionKind[request.actionKind]);
  json.memoryClass = short('MEMORY_CLASS_', MemoryClass[request.memoryClass]);
  json.dataClasses = request.dataClasses.map((c) => short('DATA_CLASS_', DataClass[c]));
  return json;
}

/**
 * The RuleInput that can be rebuilt from a recorded request alone (shadow mode and what-if read
 * GateDecided, which carries the request but not the registry entry or the run's history): agent,
 * contract and action are `{}`, histories are empty, `now` is the decision time.
 */
export function recordedRuleInput(request: GateRequested, decidedAtMs: number): RuleInput {
  return {
    request: requestJson(request),
    agent: EMPTY,
    contract: EMPTY,
    action: EMPTY,
    run: NO_HISTORY,
    agentHistory: NO_HISTORY,
    now: decidedAtMs,
  };
}

/** One request evaluated by the baseline (active) bundle and a candidate. */
export interface BundleComparison {
  readonly baselineVersion: string;
  readonly baselineEffect: RuleEffect;
  readonly candidateVersion: string;
  readonly candidateEffect: RuleEffect;
  /** The candidate's rules that matched or failed. */
  readonly candidateRules: readonly RuleVerdict[];
  /** Rule ids whose result differs between baseline and candidate (a rule missing from one counts as no_match). */
  readonly flippedRules: readonly string[];
  readonly flipped: boolean;
}

/** Evaluates a candidate beside the baseline on the same input. No baseline = nothing matches = allow. */
export function compareBundles(
  input: RuleInput,
  baseline: CompiledBundle | undefined,
  candidate: CompiledBundle,
): BundleComparison {
  const before = baseline ? baseline.evaluate(input) : [];
  const after = candidate.evaluate(input);
  const beforeById = new Map(before.map((v) => [v.ruleId, v.result]));
  const afterById = new Map(after.map((v) => [v.ruleId, v.result]));
  const flippedRules: string[] = [];
  for (const v of after) if ((beforeById.get(v.ruleId) ?? 'no_match') !== v.result) flippedRules.push(v.ruleId);
  for (const v of before) if (!afterById.has(v.ruleId) && v.result !== 'no_match') flippedRules.push(v.ruleId);
  const baselineEffect = bundleVerdict(before);
  const candidateEffect = bundleVerdict(after);
  return {
    baselineVersion: baseline?.version ?? '',
    baselineEffect,
    candidateVersion: candidate.version,
    candidateEffect,
    candidateRules: firedRules(after),
    flippedRules,
    flipped: baselineEffect !== candidateEffect,
  };
}

/** A decision that would flip under the candidate. */
export interface Flip {
  readonly requestId: string;
  readonly decisionId: string;
  readonly agentId: string;
  readonly decidedAtMs: number;
  readonly liveVerdict: string;
  readonly from: RuleEffect;
  readonly to: RuleEffect;
  readonly rules: readonly string[];
}

/** Counts of a what-if or shadow run: every flip, and counts by rule and by transition. */
export interface FlipReport {
  readonly evaluated: number;
  readonly agreed: number;
  readonly flipped: number;
  readonly byRule: Readonly<Record<string, number>>;
  readonly byTransition: Readonly<Record<string, number>>;
  readonly flips: readonly Flip[];
}

/** Accumulates comparisons into a FlipReport. */
export class FlipTally {
  private evaluated = 0;
  private readonly flips: Flip[] = [];
  private readonly byRule: Record<string, number> = {};
  private readonly byTransition: Record<string, number> = {};

  add(comparison: BundleComparison, decision: Omit<Flip, 'from' | 'to' | 'rules'>): void {
    this.evaluated++;
    if (!comparison.flipped) return;
    const from = comparison.baselineEffect;
    const to = comparison.candidateEffect;
    this.flips.push({ ...decision, from, to, rules: comparison.flippedRules });
    const transition = `${from}->${to}`;
    this.byTransition[transition] = (this.byTransition[transition] ?? 0) + 1;
    for (const rule of comparison.flippedRules) this.byRule[rule] = (this.byRule[rule] ?? 0) + 1;
  }

  report(): FlipReport {
    return {
      evaluated: this.evaluated,
      agreed: this.evaluated - this.flips.length,
      flipped: this.flips.length,
      byRule: { ...this.byRule },
      byTransition: { ...this.byTransition },
      flips: [...this.flips],
    };
  }
}
