import { createPublicKey, KeyObject } from 'node:crypto';
import {
  AgentCredentialRegisteredSchema,
  AgentCredentialRevokedSchema,
  DelegationGranted,
  DelegationGrantedSchema,
  DelegationRevokedSchema,
  Envelope,
  evolvePublicKeys,
  is,
  KeyUse,
  PublicKeys,
  SigningKeyRetiredSchema,
  SigningKeyRotatedSchema,
  ToolContractPublishedSchema,
  ToolContractWithdrawnSchema,
} from '@warden/contracts';
import { AgentDirectory, evolveAgentDirectory } from './agent-directory';
import { compileContract, CompiledContract } from './contract-checks';

/** A credential as the gate needs it: whether tokens issued against it still count. */
export interface CredentialEntry {
  readonly credentialId: string;
  readonly agentId: string;
  readonly tenantId: string;
  readonly revoked: boolean;
  readonly expiresAtMs: number;
}

/** A live or retired signing key. `privateKey` is set only for decision-token keys the signer could open. */
export interface SigningKeyEntry {
  readonly kid: string;
  readonly use: KeyUse;
  readonly publicKey: KeyObject;
  readonly sealedPrivateKey: string;
  readonly activatedAtMs: number;
  readonly retired: boolean;
}

export interface GrantEntry {
  readonly grant: DelegationGranted;
  readonly revoked: boolean;
}

/**
 * Everything the gate reads from registry.events, folded into one table: agents, tool contracts
 * by tenant, tool and version (compiled once per version), credentials, delegation grants and
 * signing keys. Pure: the same events give the same state on every instance and in replay.
 */
export interface GateRegistry {
  readonly agents: AgentDirectory;
  /** `<tenant>/<tool>@<version>` -> compiled contract. */
  readonly contracts: ReadonlyMap<string, CompiledContract>;
  readonly credentials: ReadonlyMap<string, CredentialEntry>;
  readonly grants: ReadonlyMap<string, GrantEntry>;
  readonly keys: ReadonlyMap<string, SigningKeyEntry>;
  /** The live public keys, as the shared agent-token verifier (`verifyAgentToken`) reads them. */
  readonly publicKeys: PublicKeys;
}

export const emptyGateRegistry = (): GateRegistry => ({
  agents: new Map(),
  contracts: new Map(),
  credentials: new Map(),
  grants: new Map(),
  keys: new Map(),
  publicKeys: new Map(),
});

export const contractKey = (tenantId: string, tool: string, version: string) => `${tenantId}/${tool}@${version}`;

export function evolveGateRegistry(state: GateRegistry, event: Envelope): GateRegistry {
  const agents = evolveAgentDirectory(state.agents, event);
  if (agents !== state.agents) return { ...state, agents };
  if (is(event, ToolContractPublishedSchema)) {
    const { tenantId, contract } = event.data;
    if (!contract || !contract.tool || !contract.version) return state;
    const key = contractKey(tenantId, contract.tool, contract.version);
    // Versions are immutable: a second publication of a version changes nothing.
    if (state.contracts.has(key)) return state;
    return { ...state, contracts: new Map(state.contracts).set(key, compileContract(tenantId, contract)) };
  }
  if (is(event, ToolContractWithdrawnSchema)) {
    const e = event.data;
    const key = contractKey(e.tenantId, e.tool, e.version);
    const current = state.contracts.get(key);
    if (!current || current.withdrawn) return state;
    return { ...state, contracts: new Map(state.contracts).set(key, { ...current, withdrawn: true }) };
  }
  if (is(event, AgentCredentialRegisteredSchema)) {
    const e = event.data;
    if (state.credentials.has(e.credentialId)) return state;
    const entry: CredentialEntry = {
      credentialId: e.credentialId,
      agentId: e.agentId,
      tenantId: e.tenantId,
      revoked: false,
      expiresAtMs: e.expiresAtMs,
    };
    return { ...state, credentials: new Map(state.credentials).set(e.credentialId, entry) };
  }
  if (is(event, AgentCredentialRevokedSchema)) {
    const current = state.credentials.get(event.data.credentialId);
    if (!current || current.revoked) return state;
    return {
      ...state,
      credentials: new Map(state.credentials).set(current.credentialId, { ...current, revoked: true }),
    };
  }
  if (is(event, DelegationGrantedSchema)) {
    if (state.grants.has(event.data.grantId)) return state;
    return { ...state, grants: new Map(state.grants).set(event.data.grantId, { grant: event.data, revoked: false }) };
  }
  if (is(event, DelegationRevokedSchema)) {
    const current = state.grants.get(event.data.grantId);
    if (!current || current.revoked) return state;
    return { ...state, grants: new Map(state.grants).set(event.data.grantId, { ...current, revoked: true }) };
  }
  if (is(event, SigningKeyRotatedSchema)) {
    const e = event.data;
    if (state.keys.has(e.kid)) return state;
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: JSON.parse(e.publicJwk), format: 'jwk' });
    } catch {
      return state;
    }
    const entry: SigningKeyEntry = {
      kid: e.kid,
      use: e.use,
      publicKey,
      sealedPrivateKey: e.sealedPrivateKey,
      activatedAtMs: e.activatedAtMs,
      retired: false,
    };
    return {
      ...state,
      keys: new Map(state.keys).set(e.kid, entry),
      publicKeys: evolvePublicKeys(state.publicKeys, e),
    };
  }
  if (is(event, SigningKeyRetiredSchema)) {
    const current = state.keys.get(event.data.kid);
    if (!current || current.retired) return state;
    return {
      ...state,
      keys: new Map(state.keys).set(current.kid, { ...current, retired: true }),
      publicKeys: evolvePublicKeys(state.publicKeys, event.data),
    };
  }
  return state;
}

/** The newest live key of a use (the one that signs now), if any. */
export function activeKey(registry: GateRegistry, use: KeyUse): SigningKeyEntry | undefined {
  let best: SigningKeyEntry | undefined;
  for (const k of registry.keys.values()) {
    if (k.use === use && !k.retired && (!best || k.activatedAtMs > best.activatedAtMs)) best = k;
  }
  return best;
}
