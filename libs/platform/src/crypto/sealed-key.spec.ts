import { randomBytes } from 'node:crypto';
import { openPrivateKey, parseKek, sealPrivateKey } from './sealed-key';

describe('sealed private keys', () => {
  const kek = randomBytes(32);
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: 'pub', d: 'secret' };

  it('opens what it sealed', () => {
    expect(openPrivateKey(sealPrivateKey(jwk, 'k1', kek), 'k1', kek)).toEqual(jwk);
  });

  it('refuses another kid, another key-encryption key and altered text', () => {
    const sealed = sealPrivateKey(jwk, 'k1', kek);
    expect(() => openPrivateKey(sealed, 'k2', kek)).toThrow();
    expect(() => openPrivateKey(sealed, 'k1', randomBytes(32))).toThrow();
    const [v, iv, c, t] = sealed.split('.');
    const flipped = Buffer.from(c, 'base64url');
    flipped[0] ^= 1;
    expect(() => openPrivateKey([v, iv, flipped.toString('base64url'), t].join('.'), 'k1', kek)).toThrow();
    expect(() => openPrivateKey('v0.a.b.c', 'k1', kek)).toThrow('unknown format');
  });

  it('rejects a key-encryption key of the wrong size', () => {
    expect(() => parseKek(randomBytes(16).toString('base64'))).toThrow('32 bytes');
  });
});
