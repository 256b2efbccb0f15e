import { parseArgs } from 'node:util';
import { dpopProof } from '@warden/contracts';
import { proofKey } from './proof-key';

const USAGE = `usage: dpop-proof --key <file> --url <URL> [--token <agent token>]

Prints a DPoP proof (RFC 9449) for a POST to the URL, signed by the Ed25519 key in <file>; the key
is created (mode 600) when the file does not exist. For trying the registry's token endpoint from
a shell; the SDKs make their own key and proofs:
  curl -XPOST http://127.0.0.1:7101/oauth/token \\
    -H "DPoP: $(node dist/deploy/local/dpop-proof.js --key agent.key --url http://127.0.0.1:7101/oauth/token)" \\
    -d grant_type=client_credentials -d client_id=invoice-bot -d client_secret="$SECRET"
The token it answers is bound to that key: only proofs by the same key make it usable.
With --token, the proof is for a call made with that token (its hash is the claim ath, RFC 9449
section 7), e.g. to the HTTP gate (apps/gateway/README.md).
`;

function fail(message: string): never {
  process.stderr.write(`dpop-proof: ${message}\n${USAGE}`);
  process.exit(64);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        key: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
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
  if (!values.url || !URL.canParse(values.url)) fail('--url must be the absolute URL called');
  const key = proofKey(values.key, fail);
  process.stdout.write(`${dpopProof(key, values.url, Date.now(), values.token)}\n`);
}

main();
