import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import {
  ActionKind,
  AgentActivatedSchema,
  AgentCredentialRegisteredSchema,
  AgentProfileSchema,
  AgentRegisteredSchema,
  create,
  DataClass,
  Envelope,
  GateRequestedSchema,
  jwkThumbprint,
  KeyUse,
  MemoryAccessSchema,
  MemoryClass,
  Message,
  MessageInitShape,
  newProofKey,
  ProhibitionSchema,
  requestProof,
  RiskClass,
  SigningKeyRotatedSchema,
  ToolActionSchema,
  ToolContractPublishedSchema,
  ToolContractSchema,
  ToolGrantSchema,
} from '@warden/contracts';
import { fold } from '@warden/kernel';
import { ReservationResult } from './admission';
import { emptyGateRegistry, evolveGateRegistry, GateRegistry } from './gate-registry';
import { GateView } from './gate-view';

/** Shared fixtures of the admission tests: a small registry, keys, tokens and a view over them. */
export const NOW = 1_800_000_000_000;

export const envelope = (data: Message, key = ''): Envelope => ({
  id: `${data.$typeName}:${Math.random()}`,
  type: data.$typeName,
  source: 'test',
  time: NOW,
  key,
  tenantId: 'acme',
  agentId: '',
  runId: '',
  data,
});

export function ed25519(): { publicJwk: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicJwk: JSON.stringify(publicKey.export({ format: 'jwk' })), privateKey };
}

export const agentTokenKey = ed25519();
export const decisionKey = ed25519();

export const PAYROLL_DIGEST = 'sha256:payroll-1';

export const payrollContract = create(ToolContractSchema, {
  tool: 'payroll',
  version: '1',
  definitionDigest: PAYROLL_DIGEST,
  inputSchemaJson: JSON.stringify({
    type: 'object',
    required: ['employee'],
    properties: {
      employee: { type: 'string', pattern: '^E[0-9]+$' },
      amount: { type: 'number' },
      apiKey: { type: 'string', minLength: 20 },
    },
  }),
  dataClassesIn: [DataClass.INTERNAL, DataClass.PII],
  prohibitions: [
    create(ProhibitionSchema, {
      id: 'no-large-payments',
      description: 'never pay more than 10000',
      when: 'has(request.redactedArguments.amount) && request.redactedArguments.amount > 10000',
    }),
  ],
  actions: [
    create(ToolActionSchema, { name: 'read', riskClass: RiskClass.LOW }),
    create(ToolActionSchema, { name: 'draft', riskClass: RiskClass.MEDIUM }),
    create(ToolActionSchema, { name: 'approve', riskClass: RiskClass.MEDIUM, requiresApproval: true }),
    create(ToolActionSchema, { name: 'pay', riskClass: RiskClass.CRITICAL }),
  ],
});

/** The fixture agent's profile; level 4 (ADR 0013) unless a test sets another. */
export function registryEvents(autonomyLevel = 4): Message[] {
  const profile = create(AgentProfileSchema, {
    environments: ['prod'],
    autonomyLevel,
    tools: [
      create(ToolGrantSchema, {
        tool: 'payroll',
        actions: ['read', 'draft', 'approve', 'pay'],
        contractVersion: '1',
        definitionDigest: PAYROLL_DIGEST,
      }),
    ],
    memory: [
      create(MemoryAccessSchema, { store: 'notes', memoryClass: MemoryClass.SESSION, read: true, write: true }),
      create(MemoryAccessSchema, { store: 'kb', memoryClass: MemoryClass.SHARED, read: true, write: false }),
    ],
    forbiddenMemoryClasses: [MemoryClass.DURABLE],
    delegatesTo: ['helper-bot', 'idle-bot'],
  });
  return [
    create(AgentRegisteredSchema, { agentId: 'payroll-bot', tenantId: 'acme', version: 1, profile }),
    create(AgentActivatedSchema, { agentId: 'payroll-bot', tenantId: 'acme', version: 2 }),
    create(AgentRegisteredSchema, { agentId: 'helper-bot', tenantId: 'acme', version: 1 }),
    create(AgentActivatedSchema, { agentId: 'helper-bot', tenantId: 'acme', version: 2 }),
    create(AgentRegisteredSchema, { agentId: 'idle-bot', tenantId: 'acme', version: 1 }),
    create(ToolContractPublishedSchema, { tenantId: 'acme', contract: payrollContract }),
    create(AgentCredentialRegisteredSchema, { agentId: 'payroll-bot', tenantId: 'acme', credentialId: 'cred-1' }),
    create(SigningKeyRotatedSchema, {
      kid: 'at-1',
      use: KeyUse.AGENT_TOKEN,
      alg: 'EdDSA',
      publicJwk: agentTokenKey.publicJwk,
      activatedAtMs: NOW - 1000,
    }),
    create(SigningKeyRotatedSchema, {
      kid: 'dt-1',
      use: KeyUse.DECISION_TOKEN,
      alg: 'EdDSA',
      publicJwk: decisionKey.publicJwk,
      activatedAtMs: NOW - 1000,
    }),
  ];
}

export const registryOf = (events: readonly Message[]): GateRegistry =>
  fold((s: GateRegistry, e: Message) => evolveGateRegistry(s, envelope(e)), emptyGateRegistry(), events);

export const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An agent token as the registry issues it (ADR 0009), with claims or key overridden. */
export function agentToken(claims: Record<string, unknown> = {}, key = agentTokenKey.privateKey, kid = 'at-1'): string {
  const input = `${b64({ alg: 'EdDSA', kid, typ: 'JWT' })}.${b64({
    iss: 'warden-registry',
    aud: 'warden-gate',
    sub: 'payroll-bot',
    tenant: 'acme',
    cid: 'cred-1',
    iat: Math.floor(NOW / 1000) - 10,
    exp: Math.floor(NOW / 1000) + 600,
    jti: 'tok-1',
    cnf: { jkt: jwkThumbprint(proofKey.jwk) },
    ...claims,
  })}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
}

/** The agent process's key: the fixture token is bound to it, and it proves every fixture request. */
export const proofKey = newProofKey();

/** A request as the gate's ingress hands it to policy, with its proof (unless `over` sets one). */
export const request = (over: MessageInitShape<typeof GateRequestedSchema> = {}) => {
  const r = unproved(over);
  if (r.agentToken && over.requestProof === undefined) r.requestProof = requestProof(r, proofKey);
  return r;
};

const unproved = (over: MessageInitShape<typeof GateRequestedSchema>) =>
  create(GateRequestedSchema, {
    requestId: 'req-1',
    idempotencyKey: 'run-1:step-1',
    attempt: 1,
    tenantId: 'acme',
    agentId: 'payroll-bot',
    runId: 'run-1',
    stepId: 'step-1',
    actionKind: ActionKind.TOOL_CALL,
    tool: 'payroll',
    action: 'read',
    environment: 'prod',
    argumentsDigest: 'sha256:args-1',
    redactedArguments: { employee: 'E42' },
    dataClasses: [DataClass.INTERNAL],
    requestedAtMs: NOW - 5,
    deadlineMs: NOW + 1000,
    agentToken: agentToken(),
    ...over,
  });

export const reservation = (over: Partial<ReservationResult> = {}): ReservationResult => ({
  granted: true,
  reservationId: 'res-1',
  reason: '',
  reservedTokens: 100,
  approvalRequired: false,
  approvalReason: '',
  hints: [],
  ...over,
});

export function view(over: Partial<GateView> = {}, registry = registryOf(registryEvents())): GateView {
  return {
    registry,
    switches: new Map(),
    bundleFor: () => undefined,
    standing: new Map(),
    completedBy: () => undefined,
    agentHistory: () => [],
    signer: { kid: 'dt-1', privateKey: decisionKey.privateKey },
    settings: { decisionTokenTtlMs: 30_000, agentTokens: 'required' },
    versions: { registry: 9, killswitch: 3, activity: 5, bundles: 2 },
    ...over,
  };
}
