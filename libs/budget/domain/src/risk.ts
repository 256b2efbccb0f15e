import {
  ActionKind,
  Envelope,
  GateRequested,
  is,
  RedactionMark,
  redactionMarks,
  RiskClass,
  ToolContractPublishedSchema,
  ToolContractWithdrawnSchema,
} from '@warden/contracts';

/**
 * Risk points a request reserves, by the risk class of its action in the tool's contract. The
 * scale grows faster than the class so one critical action weighs like ten medium ones. A tool call
 * whose action no contract classifies counts as high: unknown is not harmless. Other actions
 * (model calls, memory, delegation) carry no risk points.
 */
export const RISK_POINTS: Readonly<Record<RiskClass, number>> = {
  [RiskClass.UNSPECIFIED]: 10,
  [RiskClass.LOW]: 1,
  [RiskClass.MEDIUM]: 3,
  [RiskClass.HIGH]: 10,
  [RiskClass.CRITICAL]: 30,
};

/** Per "<tenant>/<tool>": per contract version in force, the risk class of each action. */
export type ToolRiskTable = ReadonlyMap<string, ReadonlyMap<string, ReadonlyMap<string, RiskClass>>>;

/** Folds registry.events into the risk table: published versions add, withdrawn versions leave. */
export function evolveToolRisk(table: ToolRiskTable, event: Envelope): ToolRiskTable {
  if (is(event, ToolContractPublishedSchema)) {
    const { tenantId, contract } = event.data;
    if (!contract) return table;
    const key = `${tenantId}/${contract.tool}`;
    const actions = new Map(contract.actions.map((a) => [a.name, a.riskClass] as const));
    return new Map(table).set(key, new Map(table.get(key)).set(contract.version, actions));
  }
  if (is(event, ToolContractWithdrawnSchema)) {
    const { tenantId, tool, version } = event.data;
    const key = `${tenantId}/${tool}`;
    const versions = table.get(key);
    if (!versions?.has(version)) return table;
    const rest = new Map(versions);
    rest.delete(version);
    return new Map(table).set(key, rest);
  }
  return table;
}

/**
 * The risk points of a request: for a tool call, the highest class its action has in any contract
 * version in force (an agent pinned to an older version never reserves less than it might use).
 */
export function riskPointsOf(table: ToolRiskTable, request: GateRequested): number {
  if (request.actionKind !== ActionKind.TOOL_CALL) return 0;
  const classes = [...(table.get(`${request.tenantId}/${request.tool}`)?.values() ?? [])]
    .map((actions) => actions.get(request.action))
    .filter((c): c is RiskClass => c !== undefined && c !== RiskClass.UNSPECIFIED);
  if (classes.length === 0) return RISK_POINTS[RiskClass.UNSPECIFIED];
  return Math.max(...classes.map((c) => RISK_POINTS[c]));
}

/** Per "<tenant>/<tool>": per contract version in force, what its input schema marks for redaction. */
export type RedactionMarksTable = ReadonlyMap<string, ReadonlyMap<string, readonly RedactionMark[]>>;

/** What the gate reads of the tool contracts: the risk class of each action and the redaction marks. */
export interface ToolFacts {
  readonly risk: ToolRiskTable;
  readonly marks: RedactionMarksTable;
}

export const emptyToolFacts = (): ToolFacts => ({ risk: new Map(), marks: new Map() });

/** Folds registry.events into the tool facts (see evolveToolRisk); returns the same object for other events. */
export function evolveToolFacts(facts: ToolFacts, event: Envelope): ToolFacts {
  const risk = evolveToolRisk(facts.risk, event);
  if (risk === facts.risk) return facts;
  let marks = facts.marks;
  if (is(event, ToolContractPublishedSchema) && event.data.contract) {
    const { tenantId, contract } = event.data;
    const key = `${tenantId}/${contract.tool}`;
    marks = new Map(marks).set(
      key,
      new Map(marks.get(key)).set(contract.version, redactionMarks(contract.inputSchemaJson)),
    );
  } else if (is(event, ToolContractWithdrawnSchema)) {
    const key = `${event.data.tenantId}/${event.data.tool}`;
    const versions = new Map(marks.get(key));
    versions.delete(event.data.version);
    marks = new Map(marks).set(key, versions);
  }
  return { risk, marks };
}

/**
 * The redaction marks of a tool call: those of every contract version in force (an agent pinned to
 * any of them is redacted as strictly as the strictest).
 */
export function redactionMarksOf(facts: ToolFacts, request: GateRequested): RedactionMark[] {
  if (request.actionKind !== ActionKind.TOOL_CALL) return [];
  return [...(facts.marks.get(`${request.tenantId}/${request.tool}`)?.values() ?? [])].flat();
}
