import { randomUUID } from 'node:crypto';
import { importJWK, JWK, SignJWT } from 'jose';
import { dpopProof, newProofKey, ProofKey } from '@warden/contracts';

/** How an agent proves who it is to the registry's token endpoint (one of its registered credentials). */
export interface AgentCredentials {
  /** The registry's base URL, e.g. http://127.0.0.1:7101. */
  readonly registryUrl: string;
  /** The agent id (OAuth client_id). */
  readonly agentId: string;
  /** A client secret as returned once by POST /agents/:id/credentials. */
  readonly clientSecret?: string;
  /** Or a private key (private_key_jwt): the Ed25519 private JWK and the credential id it was registered as. */
  readonly privateKey?: { readonly credentialId: string; readonly jwk: JWK };
}

/** Refresh a token this long before it expires. */
const REFRESH_MARGIN_MS = 30_000;

/**
 * Obtains short-lived agent tokens from the registry (OAuth 2.0 client credentials) and keeps
 * one fresh. Every token is bound to `key` with a DPoP proof (RFC 9449), so it is worth nothing to
 * anyone without that key. Concurrent callers share one request. Any failure rejects: the client
 * then fails closed rather than send a request without proof of identity.
 */
export class AgentTokenSource {
  private current: { token: string; refreshAt: number } | undefined;
  private inFlight: Promise<string> | undefined;

  constructor(
    private readonly credentials: AgentCredentials,
    private readonly clock: () => number = Date.now,
    /** The key tokens are bound to; the client signs its requests with the same one. */
    readonly key: ProofKey = newProofKey(),
  ) {
    if (!credentials.clientSecret && !credentials.privateKey)
      throw new Error('agent credentials need a clientSecret or a privateKey');
  }

  async token(): Promise<string> {
    if (this.current && this.clock() < this.current.refreshAt) return this.current.token;
    this.inFlight ??= this.fetchToken().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async fetchToken(): Promise<string> {
    const { registryUrl, agentId, clientSecret, privateKey } = this.credentials;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: agentId });
    if (privateKey) {
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', await this.assertion(privateKey));
    } else if (clientSecret) {
      form.set('client_secret', clientSecret);
    }
    const started = this.clock();
    const url = `${registryUrl.replace(/\/$/, '')}/oauth/token`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: dpopProof(this.key, url, started) },
      body: form.toString(),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      detail?: string;
    };
    if (!res.ok || !body.access_token || !body.expires_in)
      throw new Error(`token endpoint answered ${res.status}: ${body.detail ?? 'no token'}`);
    const lifetime = body.expires_in * 1000;
    this.current = {
      token: body.access_token,
      refreshAt: started + Math.max(lifetime - REFRESH_MARGIN_MS, lifetime / 2),
    };
    return body.access_token;
  }

  private async assertion(key: NonNullable<AgentCredentials['privateKey']>): Promise<string> {
    const now = Math.floor(this.clock() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: key.credentialId, typ: 'JWT' })
      .setIssuer(this.credentials.agentId)
      .setSubject(this.credentials.agentId)
      .setAudience('warden-registry')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(await importJWK(key.jwk, 'EdDSA'));
  }
}
