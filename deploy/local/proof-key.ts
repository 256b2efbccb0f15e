import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ProofKey } from '@warden/contracts';

/** The Ed25519 key in `file` (PKCS#8 PEM), created with mode 600 when the file does not exist. */
export function proofKey(file: string, fail: (message: string) => never): ProofKey {
  let privateKey: KeyObject;
  if (existsSync(file)) {
    privateKey = createPrivateKey(readFileSync(file, 'utf8'));
    if (privateKey.asymmetricKeyType !== 'ed25519') fail(`${file} is not an Ed25519 private key`);
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x as string;
  return { privateKey, jwk: { kty: 'OKP', crv: 'Ed25519', x } };
}
