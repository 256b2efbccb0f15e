import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { importJWK, JWK } from 'jose';
import { CredentialKind } from '@warden/contracts';
import { invalid, ownTenant, tokenTenant } from '@warden/kernel';
import { Input, rowViews, ServiceRuntime } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import { AuthorityCommand } from '@warden/registry-domain';
import { listCredentials, listGrants } from '@warden/registry-read-models';
import { hashSecret, newClientSecret } from '../agent-tokens';
import { RegistryConfig } from '../config';
import { Registry, REGISTRY } from '../registry';
import { changeBy } from './change';

export const REGISTRY_CONFIG = Symbol('RegistryConfig');

/** Reads a public JWK for private_key_jwt: an Ed25519 public key, nothing private. */
async function publicJwkOf(input: Input): Promise<string> {
  const jwk = input.json('publicJwk');
  const ok =
    jwk !== null &&
    typeof jwk === 'object' &&
    (jwk as JWK).kty === 'OKP' &&
    (jwk as JWK).crv === 'Ed25519' &&
    typeof (jwk as JWK).x === 'string' &&
    !('d' in jwk);
  if (!ok)
    throw invalid(
      'invalid_public_jwk',
      'publicJwk must be an Ed25519 public JWK (kty OKP, crv Ed25519, x)',
      'publicJwk',
    );
  try {
    await importJWK(jwk as JWK, 'EdDSA');
  } catch {
    throw invalid('invalid_public_jwk', 'publicJwk is not a usable Ed25519 key', 'publicJwk');
  }
  const { kty, crv, x } = jwk as JWK;
  return JSON.stringify({ kty, crv, x });
}

@ApiTags('identity')
@Controller('agents/:id')
export class AuthorityHttpController {
  constructor(
    @Inject(REGISTRY) private readonly registry: Registry,
    @Inject(REGISTRY_CONFIG) private readonly config: RegistryConfig,
    private readonly runtime: ServiceRuntime,
  ) {}

  @Post('credentials')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Register a credential for an agent (roles admin or owner): kind client_secret (the secret is returned once, only its hash is kept) or public_key with publicJwk (for private_key_jwt).',
  })
  async registerCredential(@Param('id') agentId: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const kind = input.string('kind', { pattern: /^(client_secret|public_key)$/ });
    const credentialId = randomUUID();
    const secret = kind === 'client_secret' ? newClientSecret(credentialId) : undefined;
    await this.run(agentId, caller, input, {
      type: 'RegisterCredential',
      credentialId,
      kind: kind === 'public_key' ? CredentialKind.PUBLIC_KEY : CredentialKind.CLIENT_SECRET,
      publicJwk: kind === 'public_key' ? await publicJwkOf(input) : '',
      secretHash: secret ? await hashSecret(secret) : '',
      expiresAtMs: input.int('expiresAtMs', { optional: true, min: 0 }),
    });
    return { agentId, credentialId, kind, clientId: agentId, ...(secret ? { clientSecret: secret } : {}) };
  }

  @Post('credentials/:credentialId/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a credential at once: its tokens stop verifying (roles admin, owner or sre).' })
  async revokeCredential(
    @Param('id') agentId: string,
    @Param('credentialId') credentialId: string,
    @Body() body: unknown,
    @CallerOf() caller: Caller,
  ) {
    await this.run(agentId, caller, Input.of(body), { type: 'RevokeCredential', credentialId });
    return { agentId, credentialId, revoked: true };
  }

  @Get('credentials')
  @ApiOperation({ summary: 'An agent’s credentials, without secrets (roles admin, owner, sre or auditor).' })
  async credentials(@Param('id') agentId: string, @CallerOf() caller: Caller) {
    return rowViews(await listCredentials(this.runtime.db, ownTenant(caller, 'registry.credentials.read'), agentId));
  }

  @Post('grants')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Grant the agent authority to act on behalf of a subject (the caller unless admin or owner) for scopes "<tool>:<action>" until expiresAtMs.',
  })
  async grant(@Param('id') agentId: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const grantId = randomUUID();
    const subject = input.string('subject', { optional: true, max: 200 }) || caller.subject;
    const scopes = input.strings('scopes');
    const expiresAtMs = input.int('expiresAtMs', { min: 0 });
    await this.run(agentId, caller, input, {
      type: 'GrantDelegation',
      grantId,
      subject,
      scopes,
      expiresAtMs,
      maxLifetimeMs: this.config.grantMaxLifetimeSeconds * 1000,
    });
    return { grantId, agentId, subject, scopes: [...new Set(scopes)], expiresAtMs };
  }

  @Post('grants/:grantId/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a grant at once (its subject, or an admin or owner).' })
  async revokeGrant(
    @Param('id') agentId: string,
    @Param('grantId') grantId: string,
    @Body() body: unknown,
    @CallerOf() caller: Caller,
  ) {
    await this.run(agentId, caller, Input.of(body), { type: 'RevokeDelegation', grantId });
    return { agentId, grantId, revoked: true };
  }

  @Get('grants')
  @ApiOperation({ summary: 'Grants to an agent: ?live=true for those neither revoked nor expired; ?subject.' })
  grants(@Param('id') agentId: string, @Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return grantsOf(this.runtime, caller, { ...query, agentId });
  }

  private async run(
    agentId: string,
    caller: Caller,
    input: Input,
    command: DistributiveOmit<
      AuthorityCommand,
      'agentId' | 'callerTenant' | 'agent' | 'by' | 'roles' | 'reason' | 'now'
    >,
  ) {
    const full = {
      ...command,
      agentId,
      callerTenant: tokenTenant(caller),
      agent: this.registry.agentHead(agentId),
      ...changeBy(input, caller),
    } as AuthorityCommand;
    return this.registry.authority.handle(agentId, full, { eventId: () => randomUUID(), now: full.now });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The grants query shared by /grants and /agents/:id/grants. */
export async function grantsOf(runtime: ServiceRuntime, caller: Caller, query: Record<string, unknown>) {
  const q = Input.of(query);
  const rows = await listGrants(runtime.db, ownTenant(caller, 'tenant.read'), {
    agentId: q.string('agentId', { optional: true, max: 128 }) || undefined,
    subject: q.string('subject', { optional: true, max: 200 }) || undefined,
    liveAt: q.string('live', { optional: true, pattern: /^(true|false)$/ }) === 'true' ? Date.now() : undefined,
    limit: Number(q.string('limit', { optional: true, pattern: /^[1-9]\d{0,3}$/ }) || 100),
  });
  return rowViews(rows);
}

@ApiTags('identity')
@Controller('grants')
export class GrantsHttpController {
  constructor(private readonly runtime: ServiceRuntime) {}

  @Get()
  @ApiOperation({ summary: 'The caller tenant’s delegation grants: ?agentId, subject, live=true, limit.' })
  list(@Query() query: Record<string, unknown>, @CallerOf() caller: Caller) {
    return grantsOf(this.runtime, caller, query);
  }
}
