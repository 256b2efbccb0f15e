import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Private signing keys travel in registry events sealed with AES-256-GCM under a key-encryption
 * key (KEK) that only the services which sign are configured with (WARDEN_KEY_ENCRYPTION_KEY,
 * 32 bytes, base64). The key id is bound as additional authenticated data, so a sealed key cannot
 * be replayed under another kid. Format: `v1.<iv>.<ciphertext>.<tag>`, each part base64url.
 */
const VERSION = 'v1';

export function parseKek(base64: string): Buffer {
  const kek = Buffer.from(base64, 'base64');
  if (kek.length !== 32) throw new Error(`key-encryption key must be 32 bytes (base64), got ${kek.length}`);
  return kek;
}

export function sealPrivateKey(privateJwk: object, kid: string, kek: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(privateJwk), 'utf8'), cipher.final()]);
  const parts = [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url'));
  return [VERSION, ...parts].join('.');
}

/** The private JWK; throws if the sealed text was altered, sealed for another kid or another KEK. */
export function openPrivateKey(sealed: string, kid: string, kek: Buffer): Record<string, unknown> {
  const [version, iv, ciphertext, tag] = sealed.split('.');
  if (version !== VERSION || !iv || !ciphertext || !tag) throw new Error('sealed key: unknown format');
  const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(kid, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
}
