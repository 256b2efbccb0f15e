import { importJWK, SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';

/**
 * The development token issuer (ADR 0010): a fixed Ed25519 key pair, committed on purpose so
 * that tests, the demo, the local stack and an operator's shell agree without setup. Its public
 * JWKS is handed to services through WARDEN_AUTH_JWKS by the local stack and the test helpers.
 * NEVER configure it in a real deployment: anyone with this repository can mint its tokens.
 */
export const DEV_ISSUER = 'warden-dev';
export const DEV_AUDIENCE = 'warden-admin';
const DEV_PUBLIC_JWK = {
  kty: 'OKP',
  crv: 'Ed25519',
  x: 'g2GDO1WGv4ch71jYKMbCQf5cfnuQl4kzhk6VdSE9ckY',
  kid: 'warden-dev-1',
  alg: 'EdDSA',
  use: 'sig',
};
const DEV_PRIVATE_JWK = { ...DEV_PUBLIC_JWK, d: 'FsqZ9HoMCcqrTwNTnk5PVrrC4KbFbG3J3u14GAi-t-0' };

/** A development key-encryption key for sealed signing keys (ADR 0009); local stack and tests only. */
export const DEV_KEY_ENCRYPTION_KEY = 'd2FyZGVuLWRldi1rZWstbm90LWZvci1wcm9kdWN0aW8=';

/** The environment that makes a service trust the development issuer. */
export function devAuthEnv(): Record<string, string> {
  return {
    WARDEN_AUTH_ISSUER: DEV_ISSUER,
    WARDEN_AUTH_AUDIENCE: DEV_AUDIENCE,
    WARDEN_AUTH_JWKS: JSON.stringify({ keys: [DEV_PUBLIC_JWK] }),
  };
}

export interface DevTokenClaims {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly tenant: string;
  /** The OIDC `email` claim; none when absent. */
  readonly email?: string;
  /** Lifetime in seconds (default one hour); negative values mint an already expired token. */
  readonly ttlSeconds?: number;
}

let privateKey: ReturnType<typeof importJWK> | undefined;

/** Mints an admin-API bearer token from the development issuer. */
export async function devToken(claims: DevTokenClaims, nowMs = Date.now()): Promise<string> {
  privateKey ??= importJWK(DEV_PRIVATE_JWK, 'EdDSA');
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({
    roles: [...claims.roles],
    tenant: claims.tenant,
    ...(claims.email ? { email: claims.email } : {}),
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: DEV_PUBLIC_JWK.kid, typ: 'JWT' })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(claims.subject)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (claims.ttlSeconds ?? 3600))
    .setJti(randomUUID())
    .sign(await privateKey);
}
