/**
 * The seam between policy bundles (versioned CEL rules) and the admission decision. The bundle
 * side compiles a published bundle once per version and evaluates its rules; the admission side
 * builds the input from the request and the state it folded, and turns the verdicts into checks.
 * Everything here is plain data, so both sides can be tested alone.
 */

/** One call or step the run (or agent) made before, as the rules see it. */
export interface HistoryEntry {
  readonly requestId: string;
  readonly actionKind: string;
  readonly tool: string;
  readonly action: string;
  readonly atMs: number;
  readonly dataClasses: readonly string[];
  readonly verdict: string;
}

/**
 * What a rule can read. Field names are the CEL variable names: `request`, `agent`, `contract`,
 * `action`, `run`, `agent_history`, `now`. Objects are JSON-like (proto3 JSON names, lowerCamel).
 */
export interface RuleInput {
  /** The gate request (GateRequested as JSON, enums as their short lower-case names). */
  readonly request: Readonly<Record<string, unknown>>;
  /** The agent's registry entry: status, version and profile; `{}` when unknown. */
  readonly agent: Readonly<Record<string, unknown>>;
  /** The pinned tool contract of a tool call, `{}` otherwise. */
  readonly contract: Readonly<Record<string, unknown>>;
  /** The contract's entry for the requested action (risk class, approval), `{}` otherwise. */
  readonly action: Readonly<Record<string, unknown>>;
  /** This run's earlier allowed steps, oldest first. */
  readonly run: { readonly history: readonly HistoryEntry[] };
  /** The agent's earlier allowed steps across its runs within the history horizon, oldest first. */
  readonly agentHistory: { readonly history: readonly HistoryEntry[] };
  /** The decision clock (recorded metadata, never the wall clock), ms since epoch. */
  readonly now: number;
}

export type RuleEffect = 'allow' | 'deny' | 'require_approval';

/** The result of one rule for one input. */
export interface RuleVerdict {
  readonly ruleId: string;
  /** The bundle version the rule belongs to. */
  readonly version: string;
  /** `no_match` when the rule's condition was false; `error` when it could not be evaluated. */
  readonly result: RuleEffect | 'no_match' | 'error';
  readonly risk: number;
  readonly reason: string;
}

/** A published bundle, compiled once per version. `evaluate` is pure and never throws. */
export interface CompiledBundle {
  readonly bundleId: string;
  readonly tenantId: string;
  readonly version: string;
  readonly digest: string;
  evaluate(input: RuleInput): readonly RuleVerdict[];
}
