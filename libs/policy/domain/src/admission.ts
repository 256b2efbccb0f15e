import {
  ActionKind,
  ActiveSwitches,
  DataClass,
  Effect,
  GateRequested,
  KillSwitchEngaged,
  MemoryClass,
  RiskClass,
  ToolAction,
  describeScope,
  scopeCovers,
  toJson,
  GateRequestedSchema,
} from '@warden/contracts';
import { mergeHistory } from './activity';
import { AgentEntry } from './agent-directory';
import { CompiledBundle, HistoryEntry, RuleInput } from './bundles/api';
import { CompiledContract, inputShapeErrors, violatedProhibitions } from './contract-checks';
import { contractKey, GateRegistry } from './gate-registry';
import { classOfScore, GateView, RISK_BASE, StandingEntry } from './gate-view';
import { agentTokenCheck } from './tokens';

/** Version of the built-in admission checks; recorded in every evaluation they make. */
export const BUILTIN_CHECKS_VERSION = 'builtin-2';

/** The vocabulary of `Evaluation.result` (gate.proto), plus the idempotency answer. */
export type CheckResult = 'pass' | 'deny' | 'expired' | 'require_approval' | 'already_completed';

export interface Check {
  readonly id: string;
  readonly version: string;
  readonly result: CheckResult;
  readonly reason: string;
  readonly risk: number;
}

const check = (id: string, result: CheckResult, reason: string, version = BUILTIN_CHECKS_VERSION, risk = 0) => ({
  id,
  version,
  result,
  reason,
  risk,
});
const pass = (id: string, reason: string) => check(id, 'pass', reason);
const deny = (id: string, reason: string) => check(id, 'deny', reason);

/** The budget stage's answer to the request. */
export interface ReservationResult {
  readonly granted: boolean;
  readonly reservationId: string;
  readonly reason: string;
  readonly reservedTokens: number;
  readonly approvalRequired: boolean;
  readonly approvalReason: string;
  readonly hints: readonly string[];
}

/** What the admission stages concluded, before it becomes a GateDecided. */
export interface Admission {
  readonly checks: readonly Check[];
  /** The check that decided a deny / expired / already_completed, if any. */
  readonly deciding: Check | undefined;
  readonly approvalRequired: readonly Check[];
  readonly standing: StandingEntry | undefined;
  readonly riskScore: number;
  readonly riskClass: RiskClass;
  readonly killSwitchIds: readonly string[];
  readonly contract: CompiledContract | undefined;
  readonly bundleVersion: string;
  readonly completedBy: string;
  /** The agent token that proved the request (its id and credential), when one did. */
  readonly proved?: { readonly tokenId: string; readonly credentialId: string };
}

const ALL_POLICY_EFFECTS = [
  Effect.STOP_RUN,
  Effect.REVOKE_TOOLS,
  Effect.FREEZE_MEMORY_WRITES,
  Effect.PREVENT_RETRIES,
  Effect.BLOCK_DELEGATION,
];

const hasEffect = (s: KillSwitchEngaged, effect: Effect) => s.effects.length === 0 || s.effects.includes(effect);

/**
 * The kill switches that deny this request, with the effect that does: STOP_RUN anything in scope;
 * REVOKE_TOOLS tool calls; FREEZE_MEMORY_WRITES memory writes; PREVENT_RETRIES attempts after the
 * first; BLOCK_DELEGATION delegations from an agent in scope or to one (the delegate is matched as
 * the agent). The other effects (traces, notification, safe state) belong to other services.
 */
export function denyingSwitches(
  switches: ActiveSwitches,
  r: GateRequested,
  now: number,
): { switch: KillSwitchEngaged; effect: Effect }[] {
  const out: { switch: KillSwitchEngaged; effect: Effect }[] = [];
  const live = [...switches.values()]
    .filter((s) => s.expiresAtMs === 0 || s.expiresAtMs > now)
    .sort((a, b) => a.engagedAtMs - b.engagedAtMs || a.switchId.localeCompare(b.switchId));
  for (const s of live) {
    const inScope = scopeCovers(s.scope, r);
    const delegateInScope =
      r.actionKind === ActionKind.DELEGATION &&
      r.delegateToAgentId !== '' &&
      scopeCovers(s.scope, { ...r, agentId: r.delegateToAgentId });
    const effect = ALL_POLICY_EFFECTS.find((e) => {
      if (!hasEffect(s, e)) return false;
      switch (e) {
        case Effect.STOP_RUN:
          return inScope;
        case Effect.REVOKE_TOOLS:
          return inScope && r.actionKind === ActionKind.TOOL_CALL;
        case Effect.FREEZE_MEMORY_WRITES:
          return inScope && r.actionKind === ActionKind.MEMORY_WRITE;
        case Effect.PREVENT_RETRIES:
          return inScope && r.attempt > 1;
        default:
          return (inScope || delegateInScope) && r.actionKind === ActionKind.DELEGATION;
      }
    });
    if (effect !== undefined) out.push({ switch: s, effect });
  }
  return out;
}

export function killSwitchCheck(
  switches: ActiveSwitches,
  r: GateRequested,
  now: number,
): { check: Check; ids: string[] } {
  const hits = denyingSwitches(switches, r, now);
  if (hits.length === 0) return { check: pass('warden.killswitch', 'no kill switch covers the request'), ids: [] };
  const { switch: s, effect } = hits[0];
  return {
    check: deny(
      'warden.killswitch',
      `kill switch ${s.switchId} (${describeScope(s.scope)}, ${Effect[effect].toLowerCase()}) engaged by ${s.engagedBy}: ${s.reason}`,
    ),
    ids: hits.map((h) => h.switch.switchId),
  };
}

const scopeMatches = (scope: string, tool: string, action: string) => {
  const [t, a = '*'] = scope.split(':');
  return (t === '*' || t === tool) && (a === '*' || a === action);
};

/**
 * The registry stage: agent registered in the tenant and active, environment, tool and action
 * within the permission envelope, the pinned contract version and digest, a live delegation
 * grant for on-behalf-of requests, and the agent token. Returns the checks it made; the last
 * one is a deny when it stopped early.
 */
export function registryChecks(
  r: GateRequested,
  registry: GateRegistry,
  view: Pick<GateView, 'settings'>,
  now: number,
): { checks: Check[]; contract: CompiledContract | undefined; proved?: Admission['proved'] } {
  const checks: Check[] = [];
  const stop = (c: Check) => ({ checks: [...checks, c], contract: undefined });
  const agent = registry.agents.get(r.agentId);
  if (!agent || agent.tenantId !== r.tenantId) {
    return stop(deny('warden.registry.agent', `agent ${r.agentId} is not registered in tenant ${r.tenantId}`));
  }
  if (agent.status !== 'active') {
    return stop(deny('warden.registry.agent', `agent ${r.agentId} is ${agent.status}, not active`));
  }
  checks.push(pass('warden.registry.agent', `agent ${r.agentId} is active (version ${agent.version})`));
  const profile = agent.profile;
  const environments = profile?.environments ?? [];
  if (environments.length > 0 && !environments.includes(r.environment)) {
    // Fail closed: an agent limited to some environments must say which one it runs in.
    const where = r.environment ? `in environment ${r.environment}` : 'without naming its environment';
    return stop(
      deny(
        'warden.registry.environment',
        `agent ${r.agentId} may not run ${where} (it may run in ${environments.join(', ')})`,
      ),
    );
  }
  checks.push(pass('warden.registry.environment', r.environment ? `may run in ${r.environment}` : 'no environment'));
  let contract: CompiledContract | undefined;
  if (r.actionKind === ActionKind.TOOL_CALL) {
    const grant = profile?.tools.find((t) => t.tool === r.tool);
    if (!grant) return stop(deny('warden.registry.tool', `tool ${r.tool} is not allowed for agent ${r.agentId}`));
    if (!grant.actions.includes(r.action) && !grant.actions.includes('*')) {
      return stop(
        deny('warden.registry.tool', `action ${r.action} on ${r.tool} is outside the agent's permission envelope`),
      );
    }
    checks.push(pass('warden.registry.tool', `may call ${r.tool}.${r.action}`));
    const pinned = registry.contracts.get(contractKey(r.tenantId, r.tool, grant.contractVersion));
    if (!grant.contractVersion || !pinned) {
      return stop(
        deny(
          'warden.registry.contract-pin',
          `unpinned or changed definition: ${r.tool} has no published contract version '${grant.contractVersion}' the agent pinned`,
        ),
      );
    }
    if (pinned.withdrawn) {
      return stop(
        deny('warden.registry.contract-pin', `contract ${r.tool}@${grant.contractVersion} was withdrawn; pin another`),
      );
    }
    if (pinned.contract.definitionDigest !== grant.definitionDigest) {
      return stop(
        deny(
          'warden.registry.contract-pin',
          `unpinned or changed definition: ${r.tool}@${grant.contractVersion} has digest ${pinned.contract.definitionDigest}, the agent pinned ${grant.definitionDigest || 'none'}`,
        ),
      );
    }
    contract = pinned;
    checks.push(pass('warden.registry.contract-pin', `pinned ${r.tool}@${grant.contractVersion} matches its digest`));
  }
  if (r.onBehalfOf) {
    const live = [...registry.grants.values()].find(
      ({ grant: g, revoked }) =>
        !revoked &&
        g.tenantId === r.tenantId &&
        g.agentId === r.agentId &&
        g.subject === r.onBehalfOf &&
        (g.expiresAtMs === 0 || g.expiresAtMs > now) &&
        g.scopes.some((s) => scopeMatches(s, r.tool, r.action)),
    );
    if (!live) {
      return stop(
        deny(
          'warden.registry.delegation-grant',
          `no live grant lets ${r.agentId} act for ${r.onBehalfOf} on ${r.tool || '-'}:${r.action || '-'}`,
        ),
      );
    }
    checks.push(pass('warden.registry.delegation-grant', `grant ${live.grant.grantId} from ${r.onBehalfOf}`));
  }
  let proved: Admission['proved'];
  if (r.agentToken) {
    const verdict = agentTokenCheck(r.agentToken, r, registry, now);
    if (!verdict.ok) return stop(deny('warden.registry.signature', verdict.reason));
    proved = { tokenId: verdict.claims.jti, credentialId: verdict.claims.cid };
    checks.push(
      pass('warden.registry.signature', `agent token ${verdict.claims.jti} and its request proof prove ${r.agentId}`),
    );
  } else if (r.agentTokenId && view.settings.recordedRequests) {
    // Re-evaluating a recorded request: the gate verified its token and dropped it (docs/adr/0070).
    checks.push(pass('warden.registry.signature', `agent token ${r.agentTokenId} proved ${r.agentId} when decided`));
  } else if (view.settings.agentTokens === 'required') {
    return stop(deny('warden.registry.signature', 'the request carries no agent token'));
  } else {
    checks.push(pass('warden.registry.signature', 'unsigned request accepted (agent tokens optional here)'));
  }
  return { checks, contract, proved };
}

const shortName = (enumObject: Record<number, string>, value: number) => (enumObject[value] ?? '').toLowerCase();

/** What rules and prohibitions read (see bundles/api.ts). */
export function ruleInput(
  r: GateRequested,
  agent: AgentEntry | undefined,
  contract: CompiledContract | undefined,
  runHistory: readonly HistoryEntry[],
  agentHistory: readonly HistoryEntry[],
  now: number,
): RuleInput {
  const json = toJson(GateRequestedSchema, r, { alwaysEmitImplicit: true }) as Record<string, unknown>;
  const action = contract?.contract.actions.find((a) => a.name === r.action);
  return {
    request: {
      ...json,
      agentToken: r.agentToken || r.agentTokenId ? '[present]' : '',
      requestProof: r.requestProof ? '[present]' : '',
      actionKind: shortName(ActionKind, r.actionKind),
      memoryClass: shortName(MemoryClass, r.memoryClass),
      dataClasses: r.dataClasses.map((d) => shortName(DataClass, d)),
    },
    agent: agent
      ? {
          agentId: agent.agentId,
          tenantId: agent.tenantId,
          status: agent.status,
          version: agent.version,
          profile: agent.profile
            ? { labels: { ...agent.profile.labels }, autonomyLevel: agent.profile.autonomyLevel }
            : {},
        }
      : {},
    contract: contract
      ? {
          tool: contract.contract.tool,
          version: contract.contract.version,
          digest: contract.contract.definitionDigest,
          dataClassesIn: contract.contract.dataClassesIn.map((d) => shortName(DataClass, d)),
        }
      : {},
    action: action
      ? {
          name: action.name,
          riskClass: shortName(RiskClass, action.riskClass),
          requiresApproval: action.requiresApproval,
        }
      : {},
    run: { history: runHistory },
    agentHistory: { history: agentHistory },
    now,
  };
}

function contractChecks(r: GateRequested, contract: CompiledContract, input: RuleInput): Check[] {
  const checks: Check[] = [];
  const v = `${contract.contract.tool}@${contract.contract.version}`;
  const action = contract.contract.actions.find((a) => a.name === r.action);
  if (contract.contract.actions.length > 0 && !action) {
    return [check('warden.contract.action', 'deny', `${v} offers no action ${r.action}`, v)];
  }
  if (contract.schemaError) {
    return [
      check('warden.contract.input', 'deny', `input schema of ${v} does not compile: ${contract.schemaError}`, v),
    ];
  }
  const errors = inputShapeErrors(contract, input.request.redactedArguments);
  if (errors.length > 0) {
    return [check('warden.contract.input', 'deny', `arguments do not fit ${v}: ${errors.join('; ')}`, v)];
  }
  checks.push(check('warden.contract.input', 'pass', `arguments fit the input schema of ${v}`, v));
  const allowed = contract.contract.dataClassesIn;
  const outside = r.dataClasses.filter((d) => !allowed.includes(d));
  if (outside.length > 0) {
    const names = outside.map((d) => shortName(DataClass, d)).join(', ');
    return [...checks, check('warden.contract.data-classes', 'deny', `${v} may not receive ${names}`, v)];
  }
  checks.push(check('warden.contract.data-classes', 'pass', 'data classes within the contract', v));
  const violated = violatedProhibitions(contract, input);
  if (violated.length > 0) {
    return [...checks, check(`warden.contract.prohibition.${violated[0].id}`, 'deny', violated[0].reason, v)];
  }
  checks.push(check('warden.contract.prohibitions', 'pass', `${contract.prohibitions.length} prohibitions hold`, v));
  const limit = contract.contract.rateLimit;
  if (limit && limit.calls > 0 && limit.windowMs > 0) {
    const since = input.now - limit.windowMs;
    const used = input.agentHistory.history.filter((h) => h.tool === r.tool && h.atMs > since).length;
    if (used >= limit.calls) {
      const reason = `${r.agentId} made ${used} calls to ${r.tool} in the last ${limit.windowMs} ms (limit ${limit.calls})`;
      return [...checks, check('warden.contract.rate-limit', 'deny', reason, v)];
    }
    checks.push(check('warden.contract.rate-limit', 'pass', `${used} of ${limit.calls} calls in the window`, v));
  }
  return checks;
}

function memoryCheck(r: GateRequested, agent: AgentEntry): Check {
  const id = 'warden.memory';
  const cls = shortName(MemoryClass, r.memoryClass) || 'unspecified';
  const profile = agent.profile;
  if (profile?.forbiddenMemoryClasses.includes(r.memoryClass)) {
    return deny(id, `memory class ${cls} is forbidden for agent ${r.agentId}`);
  }
  const write = r.actionKind === ActionKind.MEMORY_WRITE;
  const access = profile?.memory.find((m) => m.store === r.memoryStore && m.memoryClass === r.memoryClass);
  if (!access) return deny(id, `agent ${r.agentId} has no access to memory store ${r.memoryStore} (${cls})`);
  if (write ? !access.write : !access.read) {
    return deny(id, `agent ${r.agentId} may not ${write ? 'write' : 'read'} ${r.memoryStore} (${cls})`);
  }
  return pass(id, `may ${write ? 'write' : 'read'} ${r.memoryStore} (${cls})`);
}

function delegationCheck(r: GateRequested, agent: AgentEntry, registry: GateRegistry): Check {
  const id = 'warden.delegation';
  const to = r.delegateToAgentId;
  if (!to) return deny(id, 'a delegation must name delegate_to_agent_id');
  if (!agent.profile?.delegatesTo.includes(to)) return deny(id, `agent ${r.agentId} may not delegate to ${to}`);
  const delegate = registry.agents.get(to);
  if (!delegate || delegate.tenantId !== r.tenantId)
    return deny(id, `delegate ${to} is not registered in ${r.tenantId}`);
  if (delegate.status !== 'active') return deny(id, `delegate ${to} is ${delegate.status}, not active`);
  return pass(id, `may delegate to ${to}`);
}

function ruleChecks(bundle: CompiledBundle | undefined, input: RuleInput): Check[] {
  if (!bundle) return [pass('warden.rules', 'no policy bundle is active for the tenant')];
  return bundle.evaluate(input).map((v) => {
    switch (v.result) {
      case 'deny':
        return check(v.ruleId, 'deny', v.reason, v.version, v.risk);
      case 'error':
        return check(v.ruleId, 'deny', `rule could not be evaluated: ${v.reason}`, v.version, v.risk);
      case 'require_approval':
        return check(v.ruleId, 'require_approval', v.reason, v.version, v.risk);
      default:
        return check(v.ruleId, 'pass', v.reason || v.result, v.version, v.risk);
    }
  });
}

const rank = (c: RiskClass) => (c === RiskClass.UNSPECIFIED ? 0 : c);

/**
 * The autonomy scale of docs/adr/0013-autonomy-levels.md, by level (the registry validates the
 * level against the same five names, `AUTONOMY_LEVELS` in the registry domain).
 */
export const AUTONOMY_SCALE = [
  'suggest only',
  'act with approval on every tool call',
  'act within low risk',
  'act within medium risk',
  'fully autonomous within budgets',
] as const;

/** The id of the autonomy evaluation in every decision that reaches it. */
export const AUTONOMY_POLICY_ID = 'warden.autonomy';

/**
 * ADR 0013: the agent's autonomy level as a ceiling on what the gate allows without a person,
 * given the request's risk class. Its reason always names the level applied. Level 0 allows model
 * calls (and steps) and reads of the agent's working or session memory, and denies everything
 * else; level 1 asks approval for every tool call, memory write and delegation; levels 2–4 put a
 * ceiling on tool calls by risk class (2: low; 3: low and medium, high asks, critical is denied;
 * 4: up to high, critical asks). Contract `requiresApproval`, critical risk and the rules still ask
 * at every level, and prohibitions still deny: those are other evaluations.
 */
export function autonomyCheck(r: GateRequested, agent: AgentEntry, riskClass: RiskClass): Check {
  const level = agent.profile?.autonomyLevel ?? 0;
  if (!Number.isInteger(level) || level < 0 || level >= AUTONOMY_SCALE.length) {
    return deny(AUTONOMY_POLICY_ID, `autonomy level ${level} is not on the scale 0-4 (fail closed)`);
  }
  const at = `autonomy level ${level} (${AUTONOMY_SCALE[level]})`;
  const within = (what: string) => pass(AUTONOMY_POLICY_ID, `${at}: ${what} is within it`);
  const ask = (what: string) => check(AUTONOMY_POLICY_ID, 'require_approval', `${at}: ${what} needs approval`);
  const refuse = (what: string) => deny(AUTONOMY_POLICY_ID, `${at}: ${what} is not allowed`);
  switch (r.actionKind) {
    case ActionKind.TOOL_CALL: {
      const what = `a ${shortName(RiskClass, riskClass)}-risk tool call`;
      if (level === 0) return refuse(what);
      if (level === 1) return ask(what);
      const ceiling = level === 2 ? RiskClass.LOW : level === 3 ? RiskClass.MEDIUM : RiskClass.HIGH;
      if (rank(riskClass) <= rank(ceiling)) return within(what);
      if (level === 3 && riskClass === RiskClass.CRITICAL) return refuse(what);
      return ask(what);
    }
    case ActionKind.MEMORY_WRITE:
      if (level === 0) return refuse('a memory write');
      if (level === 1) return ask('a memory write');
      return within('a memory write');
    case ActionKind.MEMORY_READ: {
      const own = r.memoryClass === MemoryClass.WORKING || r.memoryClass === MemoryClass.SESSION;
      const what = `a read of ${shortName(MemoryClass, r.memoryClass) || 'unspecified'} memory`;
      return level === 0 && !own ? refuse(what) : within(what);
    }
    case ActionKind.DELEGATION:
      if (level === 0) return refuse('a delegation');
      if (level === 1) return ask('a delegation');
      return within('a delegation');
    case ActionKind.MODEL_CALL:
      return within('a model call');
    default:
      return within(`a ${shortName(ActionKind, r.actionKind) || 'unspecified'} action`);
  }
}

/** What the policy in force says of a request the registry admitted: stages 5 to 10 of `admit`. */
export interface PolicyChecks {
  /** The evaluations made, without the deciding one. */
  readonly checks: readonly Check[];
  /** The deny that decided, if one did. */
  readonly deciding: Check | undefined;
  /** The rule evaluations (require_approval among them asks), when the rules were reached. */
  readonly rules: readonly Check[];
  /** The autonomy evaluation, when it was reached. */
  readonly autonomy: Check | undefined;
  /** Risk score and class, when they were reached. */
  readonly risk: { readonly score: number; readonly riskClass: RiskClass } | undefined;
  readonly action: ToolAction | undefined;
}

/**
 * The stages of admission that read the policy in force: tool contract, memory policy, delegation,
 * the bundle's rules, risk, autonomy. The first deny decides. Admission runs them on the request;
 * an approval's resolution runs them again, on the policy in force when it resolves.
 */
export function policyChecks(
  r: GateRequested,
  agent: AgentEntry,
  contract: CompiledContract | undefined,
  bundle: CompiledBundle | undefined,
  input: RuleInput,
  registry: GateRegistry,
): PolicyChecks {
  const checks: Check[] = [];
  const out = { rules: [] as Check[], autonomy: undefined as Check | undefined, risk: undefined, action: undefined };
  const stop = (deciding: Check, more: Partial<PolicyChecks> = {}): PolicyChecks => ({
    ...out,
    ...more,
    checks,
    deciding,
  });
  let action: ToolAction | undefined;
  if (contract) {
    const cc = contractChecks(r, contract, input);
    const bad = cc.find((c) => c.result !== 'pass');
    if (bad) {
      checks.push(...cc.slice(0, -1));
      return stop(bad);
    }
    checks.push(...cc);
    action = contract.contract.actions.find((a) => a.name === r.action);
  }

  if (r.actionKind === ActionKind.MEMORY_READ || r.actionKind === ActionKind.MEMORY_WRITE) {
    const m = memoryCheck(r, agent);
    if (m.result !== 'pass') return stop(m, { action });
    checks.push(m);
  }

  if (r.actionKind === ActionKind.DELEGATION) {
    const d = delegationCheck(r, agent, registry);
    if (d.result !== 'pass') return stop(d, { action });
    checks.push(d);
  }

  const rules = ruleChecks(bundle, input);
  const ruleDeny = rules.find((c) => c.result === 'deny');
  if (ruleDeny) {
    checks.push(...rules.slice(0, rules.indexOf(ruleDeny)));
    return stop(ruleDeny, { action, rules });
  }
  checks.push(...rules);

  const actionClass = action?.riskClass ?? RiskClass.UNSPECIFIED;
  const score = RISK_BASE[actionClass] + rules.reduce((sum, c) => sum + c.risk, 0);
  const riskClass = Math.max(rank(classOfScore(score)), rank(actionClass)) as RiskClass;
  checks.push(
    check(
      'warden.risk',
      'pass',
      `score ${score} (action ${shortName(RiskClass, actionClass) || 'unclassified'}), class ${shortName(RiskClass, riskClass)}`,
      BUILTIN_CHECKS_VERSION,
      RISK_BASE[actionClass],
    ),
  );
  const risk = { score, riskClass };

  const autonomy = autonomyCheck(r, agent, riskClass);
  if (autonomy.result === 'deny') return stop(autonomy, { rules, autonomy, risk, action });
  checks.push(autonomy);
  return { checks, deciding: undefined, rules, autonomy, risk, action };
}

/** The standing approval that covers this request at this risk class, if one does. */
export function coveringStanding(
  standing: ReadonlyMap<string, StandingEntry>,
  r: GateRequested,
  riskClass: RiskClass,
  now: number,
): StandingEntry | undefined {
  return [...standing.values()]
    .filter(({ grant: g, revoked, exhausted, uses }) => {
      return (
        !revoked &&
        !exhausted &&
        (g.maxUses === 0 || uses < g.maxUses) &&
        (g.expiresAtMs === 0 || g.expiresAtMs > now) &&
        g.tenantId === r.tenantId &&
        (g.agentId === '' || g.agentId === r.agentId) &&
        g.tool === r.tool &&
        (g.actions.length === 0 || g.actions.includes(r.action)) &&
        rank(riskClass) <= rank(g.maxRiskClass)
      );
    })
    .sort(
      (a, b) => a.grant.grantedAtMs - b.grant.grantedAtMs || a.grant.standingId.localeCompare(b.grant.standingId),
    )[0];
}

/**
 * The admission decision's stages in their documented order (docs/adr/0025-admission-order.md,
 * autonomy from docs/adr/0115-autonomy-and-re-evaluation.md): deadline, kill switch, registry,
 * idempotency, tool contract, memory policy, delegation, rules, risk, autonomy, approval
 * requirement, budget. A deny (or expired, already_completed) short-circuits;
 * a required approval does not, so a later deny still wins over pending_approval.
 */
export function admit(
  r: GateRequested,
  reservation: ReservationResult,
  view: GateView,
  runHistory: readonly HistoryEntry[],
  now: number,
): Admission {
  const checks: Check[] = [];
  const found: { killSwitchIds: string[]; contract: CompiledContract | undefined; proved?: Admission['proved'] } = {
    killSwitchIds: [],
    contract: undefined,
  };
  const bundle = view.bundleFor(r.tenantId, now);
  const base = { approvalRequired: [], standing: undefined, riskScore: 0, riskClass: RiskClass.LOW, completedBy: '' };
  const done = (deciding: Check, completedBy = ''): Admission => ({
    ...base,
    checks: [...checks, deciding],
    deciding,
    ...found,
    bundleVersion: bundle?.version ?? '',
    completedBy,
  });

  if (!(r.deadlineMs > 0)) {
    // The gate's ingress refuses requests without one; fail closed all the same.
    return done(check('warden.deadline', 'deny', 'the request has no deadline'));
  }
  if (now > r.deadlineMs) {
    return done(check('warden.deadline', 'expired', `deadline passed ${now - r.deadlineMs} ms before the decision`));
  }
  checks.push(pass('warden.deadline', 'within deadline'));

  const ks = killSwitchCheck(view.switches, r, now);
  found.killSwitchIds = ks.ids;
  if (ks.check.result !== 'pass') return done(ks.check);
  checks.push(ks.check);

  const registry = registryChecks(r, view.registry, view, now);
  const failed = registry.checks.find((c) => c.result !== 'pass');
  if (failed) {
    checks.push(...registry.checks.slice(0, -1));
    return done(failed);
  }
  checks.push(...registry.checks);
  found.contract = registry.contract;
  found.proved = registry.proved;
  const contract = registry.contract;
  const agent = view.registry.agents.get(r.agentId) as AgentEntry;

  const completedBy = r.idempotencyKey ? view.completedBy(r.tenantId, r.idempotencyKey) : undefined;
  if (completedBy) {
    return done(
      check(
        'warden.idempotency',
        'already_completed',
        `idempotency key ${r.idempotencyKey} was completed by request ${completedBy}`,
      ),
      completedBy,
    );
  }
  checks.push(
    pass('warden.idempotency', r.idempotencyKey ? 'idempotency key not completed yet' : 'no idempotency key'),
  );

  const agentHistory = mergeHistory(view.agentHistory(r.tenantId, r.agentId), runHistory);
  const input = ruleInput(r, agent, contract, runHistory, agentHistory, now);
  const policy = policyChecks(r, agent, contract, bundle, input, view.registry);
  checks.push(...policy.checks);
  if (policy.deciding) {
    const denied = done(policy.deciding);
    return policy.risk ? { ...denied, riskScore: policy.risk.score, riskClass: policy.risk.riskClass } : denied;
  }
  const { rules, autonomy, action } = policy;
  const { score: riskScore, riskClass } = policy.risk!;

  const needs: Check[] = [...rules, autonomy!].filter((c) => c.result === 'require_approval');
  if (riskClass === RiskClass.CRITICAL)
    needs.push(check('warden.approval.critical', 'require_approval', 'critical risk'));
  if (action?.requiresApproval) {
    needs.push(check('warden.approval.contract', 'require_approval', `${r.tool}.${r.action} requires approval`));
  }
  if (reservation.approvalRequired) {
    needs.push(check('warden.approval.budget', 'require_approval', reservation.approvalReason || 'budget threshold'));
  }
  let standing: StandingEntry | undefined;
  if (needs.length > 0) {
    standing = coveringStanding(view.standing, r, riskClass, now);
    if (standing) {
      checks.push(
        pass(
          'warden.approval',
          `standing approval ${standing.grant.standingId} covers: ${needs.map((n) => n.reason).join('; ')}`,
        ),
      );
    } else {
      checks.push(...needs.filter((n) => !rules.includes(n) && n !== autonomy));
    }
  } else {
    checks.push(pass('warden.approval', 'no approval required'));
  }

  if (!reservation.granted) {
    return { ...done(deny('warden.budget', `budget refused: ${reservation.reason}`)), riskScore, riskClass };
  }
  checks.push(pass('warden.budget', `reserved ${reservation.reservedTokens} tokens`));

  return {
    checks,
    deciding: undefined,
    approvalRequired: standing ? [] : needs,
    standing,
    riskScore,
    riskClass,
    ...found,
    bundleVersion: bundle?.version ?? '',
    completedBy: '',
  };
}
