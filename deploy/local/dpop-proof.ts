import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dpopProof, ProofKey } from '@warden/contracts';

const USAGE = `usage: dpop-proof --key <file> --url <token endpoint URL>

Prints a DPoP proof (RFC 9449) for a POST to the URL, signed by the Ed25519 key in <file>; the key
is created (mode 600) when the file does not exist. For trying the registry's token endpoint from
a shell; the SDKs make their own key and proofs:
  curl -XPOST http://127.0.0.1:7101/oauth/token \\
    -H "DPoP: $(node dist/deploy/local/dpop-proof.js --key agent.key --url http://127.0.0.1:7101/oauth/token)" \\
    -d grant_type=client_credentials -d client_id=invoice-bot -d client_secret="$SECRET"
The token it answers is bound to that key: only proofs by the same key make it usable.
`;

function fail(message: string): never {
  process.stderr.write(`dpop-proof: ${message}\n${USAGE}`);
  process.exit(64);
}

function proofKey(file: string): ProofKey {
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

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        key: { type: 'string' },
        url: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!values.key) fail('--key is required');
  if (!values.url || !URL.canParse(values.url)) fail('--url must be the absolute URL of the token endpoint');
  process.stdout.write(`${dpopProof(proofKey(values.key), values.url, Date.now())}\n`);
}

main();
