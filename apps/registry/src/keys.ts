import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, JWK, SignJWT } from 'jose';
import { AGENT_TOKEN_AUDIENCE, AGENT_TOKEN_ISSUER, KeyUse } from '@warden/contracts';
import { invalid } from '@warden/kernel';
import { AuthorityJwk, openPrivateKey, parseKek, sealPrivateKey } from '@warden/platform';
import { KEY_USES, keyUseName, KEYS_STREAM, liveKeys, SigningKeysState } from '@warden/registry-domain';
import { KeyGateway } from './registry';

export interface Who {
  readonly by: string;
  readonly roles: readonly string[];
  readonly reason: string;
}

/** A JWK as served in the JWKS: public half only, with its kid, algorithm and use. */
export type PublicJwk = JWK & { kid: string; alg: 'EdDSA'; use: 'sig'; key_ops: ['verify']; warden_use: string };

/**
 * The registry's signing keys (ADR 0009): creates Ed25519 keys, announces them sealed on
 * registry.events, serves the JWKS from the folded state and signs agent tokens with the
 * active agent-token key. The private key is opened from the event with the KEK, so every
 * instance, and a restarted one, signs with the same key.
 */
export class KeyRing {
  private readonly opened = new Map<string, ReturnType<typeof importJWK>>();
  private readonly kek: Buffer;

  constructor(
    private readonly gateway: KeyGateway,
    keyEncryptionKey: string,
    /** The services' authority public keys (ADR 0118), served in the JWKS after the token keys. */
    private readonly authorityKeys: readonly AuthorityJwk[] = [],
  ) {
    this.kek = parseKek(keyEncryptionKey);
  }

  get state(): SigningKeysState {
    return this.gateway.state(KEYS_STREAM);
  }

  /** At start: a key for each use that has none. */
  async ensure(): Promise<void> {
    for (const use of Object.values(KEY_USES))
      await this.rotate(
        use,
        { by: 'warden-registry', roles: ['platform-admin'], reason: 'first start: no active key' },
        true,
      );
  }

  async rotate(use: KeyUse, who: Who, onlyIfNone = false): Promise<SigningKeysState> {
    const kid = randomUUID();
    const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg: 'EdDSA' };
    const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg: 'EdDSA' };
    const { state } = await this.gateway.handle(
      KEYS_STREAM,
      {
        type: 'RotateSigningKey',
        use,
        kid,
        alg: 'EdDSA',
        publicJwk: JSON.stringify(publicJwk),
        sealedPrivateKey: sealPrivateKey(privateJwk, kid, this.kek),
        onlyIfNone,
        ...who,
        now: Date.now(),
      },
      { eventId: () => randomUUID(), now: Date.now() },
    );
    return state;
  }

  async retire(kid: string, who: Who): Promise<SigningKeysState> {
    const { state } = await this.gateway.handle(
      KEYS_STREAM,
      { type: 'RetireSigningKey', kid, ...who, now: Date.now() },
      { eventId: () => randomUUID(), now: Date.now() },
    );
    return state;
  }

  /**
   * The live public keys of both token uses, then the services' authority keys
   * (`warden_use` `authority:<service>`) that sign authority events on the bus (ADR 0118).
   */
  jwks(): { keys: PublicJwk[] } {
    return {
      keys: [
        ...liveKeys(this.state).map((key): PublicJwk => ({
          ...(JSON.parse(key.publicJwk) as JWK),
          kid: key.kid,
          alg: 'EdDSA',
          use: 'sig',
          key_ops: ['verify'],
          warden_use: keyUseName(key.use),
        })),
        ...this.authorityKeys.map((key): PublicJwk => ({ ...key, key_ops: ['verify'] })),
      ],
    };
  }

  /** Signs an agent token (ADR 0009) with the active agent-token key. */
  async signAgentToken(
    claims: { agentId: string; tenantId: string; credentialId: string; jkt: string },
    ttlSeconds: number,
  ) {
    const kid = this.state.active.get(KeyUse.AGENT_TOKEN);
    const key = kid && this.state.keys.get(kid);
    if (!key) throw invalid('no_signing_key', 'the registry has no active agent-token key yet');
    let opened = this.opened.get(kid);
    if (!opened) {
      opened = importJWK(openPrivateKey(key.sealedPrivateKey, kid, this.kek) as JWK, 'EdDSA');
      this.opened.set(kid, opened);
    }
    const iat = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ tenant: claims.tenantId, cid: claims.credentialId, cnf: { jkt: claims.jkt } })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setIssuer(AGENT_TOKEN_ISSUER)
      .setAudience(AGENT_TOKEN_AUDIENCE)
      .setSubject(claims.agentId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .setJti(randomUUID())
      .sign(await opened);
    return { token, expiresIn: ttlSeconds };
  }
}
