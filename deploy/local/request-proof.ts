import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  argumentsDigest,
  create,
  decodeAgentJson,
  GateRequested,
  GateRequestedSchema,
  outcomeProof,
  requestProof,
  StepCompleted,
  StepCompletedSchema,
  StepFailed,
  StepFailedSchema,
  withRequestDefaults,
} from '@warden/contracts';
import { proofKey } from './proof-key';

const USAGE = `usage: request-proof --key <file> --token <agent token> [--outcome] < body.json

Prints the proof of a gate request (or, with --outcome, of an outcome) whose JSON body is on
standard input, as the HTTP gate takes it (apps/gateway/README.md): the request with the defaults
of docs/protocol.md applied, tenantId and agentId the token's when the body has none, signed by the
Ed25519 key in <file> (the one the token is bound to; see dpop-proof). For trying the gateway from a
shell; the SDKs make their own proofs.
`;

function fail(message: string): never {
  process.stderr.write(`request-proof: ${message}\n${USAGE}`);
  process.exit(64);
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        key: { type: 'string' },
        token: { type: 'string' },
        outcome: { type: 'boolean', default: false },
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
  if (!values.token) fail('--token is required');
  const claims = JSON.parse(Buffer.from(values.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
    sub?: string;
    tenant?: string;
  };
  const body = JSON.parse(readFileSync(0, 'utf8')) as Record<string, unknown>;
  const ids = { tenantId: claims.tenant, agentId: claims.sub };
  const key = proofKey(values.key, fail);
  if (values.outcome) {
    const { status, ...rest } = body;
    const schema = status === 'failed' ? StepFailedSchema : StepCompletedSchema;
    const o = decodeAgentJson(schema, Buffer.from(JSON.stringify({ ...ids, ...rest }))) as StepCompleted | StepFailed;
    process.stdout.write(`${outcomeProof(o, key)}\n`);
    return;
  }
  const r = decodeAgentJson(GateRequestedSchema, Buffer.from(JSON.stringify({ ...ids, ...body }))) as GateRequested;
  const request = create(GateRequestedSchema, withRequestDefaults(r));
  request.argumentsDigest = argumentsDigest(r.arguments ?? {});
  request.agentToken = values.token;
  process.stdout.write(`${requestProof(request, key)}\n`);
}

main();
