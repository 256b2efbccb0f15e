import {
  AgentCredentialRegistered,
  AgentCredentialRegisteredSchema,
  AgentCredentialRevoked,
  AgentCredentialRevokedSchema,
  Change,
  ChangeSchema,
  create,
  CredentialKind,
  DelegationGranted,
  DelegationGrantedSchema,
  DelegationRevoked,
  DelegationRevokedSchema,
} from '@warden/contracts';
import {
  assertNever,
  conflict,
  Decider,
  forbidden,
  holds,
  invalid,
  notFound,
  Permission,
  requireRole,
} from '@warden/kernel';
import { isId } from './agent-profile';
import { AgentStatus } from './agent';

/**
 * An agent's identity and the authority delegated to it: its credentials and the delegation
 * grants people gave it. One stream per agent (key = agent id) on registry.events, beside the
 * agent's own events; the agent itself is a separate aggregate whose head each command carries.
 */
export type AuthorityEvent = AgentCredentialRegistered | AgentCredentialRevoked | DelegationGranted | DelegationRevoked;

export interface Credential {
  readonly credentialId: string;
  readonly kind: CredentialKind;
  readonly publicJwk: string;
  readonly secretHash: string;
  readonly expiresAtMs: number;
  readonly revoked: boolean;
}

export interface Grant {
  readonly grantId: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly expiresAtMs: number;
  readonly revoked: boolean;
}

export interface AuthorityState {
  readonly agentId: string;
  readonly tenantId: string;
  readonly credentials: ReadonlyMap<string, Credential>;
  readonly grants: ReadonlyMap<string, Grant>;
}

/** What a command needs to know about the agent it names (from the agent aggregate). */
export interface AgentHeadView {
  readonly agentId: string;
  readonly tenantId: string;
  readonly status: AgentStatus;
}

interface AuthorityChange {
  readonly agentId: string;
  readonly callerTenant: string;
  /** The agent as the agent aggregate knows it; undefined when there is none. */
  readonly agent: AgentHeadView | undefined;
  readonly by: string;
  readonly roles: readonly string[];
  readonly reason: string;
  readonly now: number;
}

export type AuthorityCommand =
  | ({
      readonly type: 'RegisterCredential';
      readonly credentialId: string;
      readonly kind: CredentialKind;
      readonly publicJwk: string;
      readonly secretHash: string;
      readonly expiresAtMs: number;
    } & AuthorityChange)
  | ({ readonly type: 'RevokeCredential'; readonly credentialId: string } & AuthorityChange)
  | ({
      readonly type: 'GrantDelegation';
      readonly grantId: string;
      readonly subject: string;
      readonly scopes: readonly string[];
      readonly expiresAtMs: number;
      /** The longest a grant may live (configuration). */
      readonly maxLifetimeMs: number;
    } & AuthorityChange)
  | ({ readonly type: 'RevokeDelegation'; readonly grantId: string } & AuthorityChange);

/** The permission each command needs (roles: libs/kernel/src/roles.ts). */
const AUTHORITY_PERMISSIONS: Readonly<Record<AuthorityCommand['type'], Permission>> = {
  RegisterCredential: 'registry.credentials.register',
  RevokeCredential: 'registry.credentials.revoke',
  GrantDelegation: 'registry.grants.own',
  RevokeDelegation: 'registry.grants.own',
};

/** `<tool>:<action>`, either part may be `*`. */
const SCOPE = /^(\*|[A-Za-z0-9._@-]{1,128}):(\*|[A-Za-z0-9._@-]{1,128})$/;

const changeOf = (c: AuthorityChange): Change => create(ChangeSchema, { by: c.by, reason: c.reason, atMs: c.now });

function target(command: AuthorityChange): AgentHeadView {
  const agent = command.agent;
  if (!agent || agent.tenantId !== command.callerTenant || agent.agentId !== command.agentId)
    throw notFound('agent_not_found', `no agent ${command.agentId}`);
  return agent;
}

function live(command: AuthorityChange): AgentHeadView {
  const agent = target(command);
  if (agent.status === 'retired') throw conflict('agent_retired', `agent ${agent.agentId} is retired`);
  return agent;
}

const empty = (agent: AgentHeadView): AuthorityState => ({
  agentId: agent.agentId,
  tenantId: agent.tenantId,
  credentials: new Map(),
  grants: new Map(),
});

export const agentAuthority: Decider<AuthorityCommand, AuthorityState | undefined, AuthorityEvent> = {
  initialState: undefined,

  decide(command, state) {
    requireRole(command, AUTHORITY_PERMISSIONS[command.type]);
    const current = (agent: AgentHeadView) => state ?? empty(agent);
    switch (command.type) {
      case 'RegisterCredential': {
        const agent = live(command);
        if (!isId(command.credentialId))
          throw invalid('invalid_credential_id', 'credentialId must be 1-128 letters, digits or ._:@-', 'credentialId');
        if (current(agent).credentials.has(command.credentialId))
          throw conflict('credential_exists', `credential ${command.credentialId} exists`, 'credentialId');
        if (command.kind === CredentialKind.PUBLIC_KEY && !command.publicJwk)
          throw invalid('public_jwk_required', 'a public-key credential needs publicJwk', 'publicJwk');
        if (command.kind === CredentialKind.CLIENT_SECRET && !command.secretHash)
          throw invalid('secret_required', 'a client-secret credential needs a secret hash', 'kind');
        if (command.kind !== CredentialKind.PUBLIC_KEY && command.kind !== CredentialKind.CLIENT_SECRET)
          throw invalid('invalid_kind', 'kind must be public_key or client_secret', 'kind');
        if (command.expiresAtMs !== 0 && command.expiresAtMs <= command.now)
          throw invalid('expiry_in_past', 'expiresAtMs must be in the future (or 0 for none)', 'expiresAtMs');
        return [
          create(AgentCredentialRegisteredSchema, {
            agentId: agent.agentId,
            tenantId: agent.tenantId,
            credentialId: command.credentialId,
            kind: command.kind,
            publicJwk: command.kind === CredentialKind.PUBLIC_KEY ? command.publicJwk : '',
            secretHash: command.kind === CredentialKind.CLIENT_SECRET ? command.secretHash : '',
            expiresAtMs: command.expiresAtMs,
            change: changeOf(command),
          }),
        ];
      }
      case 'RevokeCredential': {
        const agent = target(command);
        const credential = current(agent).credentials.get(command.credentialId);
        if (!credential) throw notFound('credential_not_found', `no credential ${command.credentialId}`);
        if (credential.revoked) return [];
        return [
          create(AgentCredentialRevokedSchema, {
            agentId: agent.agentId,
            tenantId: agent.tenantId,
            credentialId: credential.credentialId,
            change: changeOf(command),
          }),
        ];
      }
      case 'GrantDelegation': {
        const agent = live(command);
        if (!isId(command.grantId))
          throw invalid('invalid_grant_id', 'grantId must be 1-128 letters, digits or ._:@-', 'grantId');
        if (current(agent).grants.has(command.grantId))
          throw conflict('grant_exists', `grant ${command.grantId} exists`, 'grantId');
        if (!command.subject) throw invalid('subject_required', 'subject is required', 'subject');
        if (command.subject !== command.by && !holds(command, 'registry.grants.others'))
          throw forbidden('not_your_authority', 'only admins and owners may grant on behalf of someone else');
        if (command.scopes.length === 0) throw invalid('scopes_required', 'scopes must name at least one', 'scopes');
        command.scopes.forEach((scope, i) => {
          if (!SCOPE.test(scope))
            throw invalid('invalid_scope', `scopes[${i}] must be <tool>:<action> (either may be *)`, `scopes[${i}]`);
        });
        if (command.expiresAtMs <= command.now)
          throw invalid('expiry_in_past', 'expiresAtMs must be in the future', 'expiresAtMs');
        if (command.expiresAtMs - command.now > command.maxLifetimeMs)
          throw invalid(
            'grant_too_long',
            `a grant may last at most ${command.maxLifetimeMs} ms; ask again later to extend it`,
            'expiresAtMs',
          );
        return [
          create(DelegationGrantedSchema, {
            grantId: command.grantId,
            tenantId: agent.tenantId,
            agentId: agent.agentId,
            subject: command.subject,
            scopes: [...new Set(command.scopes)],
            expiresAtMs: command.expiresAtMs,
            change: changeOf(command),
          }),
        ];
      }
      case 'RevokeDelegation': {
        const agent = target(command);
        const grant = current(agent).grants.get(command.grantId);
        if (!grant) throw notFound('grant_not_found', `no grant ${command.grantId}`);
        if (grant.subject !== command.by && !holds(command, 'registry.grants.others'))
          throw forbidden('not_your_authority', 'only the subject, admins and owners may revoke a grant');
        if (grant.revoked) return [];
        return [
          create(DelegationRevokedSchema, {
            grantId: grant.grantId,
            tenantId: agent.tenantId,
            agentId: agent.agentId,
            subject: grant.subject,
            change: changeOf(command),
          }),
        ];
      }
      default:
        return assertNever(command, 'command');
    }
  },

  evolve(state, event) {
    const base = state ?? {
      agentId: event.agentId,
      tenantId: event.tenantId,
      credentials: new Map(),
      grants: new Map(),
    };
    if (base.tenantId !== event.tenantId) return state;
    switch (event.$typeName) {
      case 'warden.registry.v1.AgentCredentialRegistered': {
        if (base.credentials.has(event.credentialId)) return state;
        const credentials = new Map(base.credentials);
        credentials.set(event.credentialId, {
          credentialId: event.credentialId,
          kind: event.kind,
          publicJwk: event.publicJwk,
          secretHash: event.secretHash,
          expiresAtMs: event.expiresAtMs,
          revoked: false,
        });
        return { ...base, credentials };
      }
      case 'warden.registry.v1.AgentCredentialRevoked': {
        const credential = base.credentials.get(event.credentialId);
        if (!credential || credential.revoked) return state;
        const credentials = new Map(base.credentials);
        credentials.set(event.credentialId, { ...credential, revoked: true });
        return { ...base, credentials };
      }
      case 'warden.registry.v1.DelegationGranted': {
        if (base.grants.has(event.grantId)) return state;
        const grants = new Map(base.grants);
        grants.set(event.grantId, {
          grantId: event.grantId,
          subject: event.subject,
          scopes: [...event.scopes],
          expiresAtMs: event.expiresAtMs,
          revoked: false,
        });
        return { ...base, grants };
      }
      case 'warden.registry.v1.DelegationRevoked': {
        const grant = base.grants.get(event.grantId);
        if (!grant || grant.revoked) return state;
        const grants = new Map(base.grants);
        grants.set(event.grantId, { ...grant, revoked: true });
        return { ...base, grants };
      }
      default:
        return state;
    }
  },
};

const AUTHORITY_TYPES = new Set<string>([
  'warden.registry.v1.AgentCredentialRegistered',
  'warden.registry.v1.AgentCredentialRevoked',
  'warden.registry.v1.DelegationGranted',
  'warden.registry.v1.DelegationRevoked',
]);

export const isAuthorityEvent = (event: { $typeName: string }): event is AuthorityEvent =>
  AUTHORITY_TYPES.has(event.$typeName);

/** A credential that can still prove the agent's identity at `atMs`. */
export const credentialUsable = (credential: Credential, atMs: number): boolean =>
  !credential.revoked && (credential.expiresAtMs === 0 || credential.expiresAtMs > atMs);
