import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { fromJson } from '@bufbuild/protobuf';
import { argumentsDigest, canonicalJson } from './canonical-json';
import { GateRequestedSchema, StepCompletedSchema } from './gen/warden/gate/v1/gate_pb';
import { murmur2, partitionOf } from './partitioning';
import {
  jwkThumbprint,
  outcomeProof,
  outcomeProofInput,
  outcomeProofProblem,
  proofDigest,
  requestProof,
  requestProofInput,
  requestProofProblem,
  tokenHash,
} from './proofs';
import { replyTopic } from './reply-topics';
import { approvalTaskId } from './approval-ids';

/** docs/protocol-vectors.json is the contract other languages test against: the gate must agree with it. */
const vectors = JSON.parse(readFileSync(join(__dirname, '../../../docs/protocol-vectors.json'), 'utf8'));

describe('the wire contract test vectors', () => {
  it.each(vectors.canonicalJson.vectors as { input: string; canonical: string }[])(
    'canonicalizes $input',
    ({ input, canonical }) => {
      expect(canonicalJson(JSON.parse(input))).toBe(canonical);
    },
  );

  it.each(vectors.argumentsDigest.vectors as { arguments: object; digest: string }[])('digests $arguments', (v) => {
    expect(argumentsDigest(v.arguments)).toBe(v.digest);
  });

  it.each(vectors.partition.vectors as { key: string; murmur2: number; partitions: number; partition: number }[])(
    'partitions $key',
    (v) => {
      expect(murmur2(Buffer.from(v.key, 'utf8'))).toBe(v.murmur2);
      expect(partitionOf(v.key, v.partitions)).toBe(v.partition);
    },
  );

  it.each(vectors.approvalTaskId.vectors as { tenantId: string; runId: string; requestId: string; taskId: string }[])(
    'names the approval task of $tenantId/$runId/$requestId',
    (v) => {
      expect(approvalTaskId(v.tenantId, v.runId, v.requestId)).toBe(v.taskId);
    },
  );

  it.each(vectors.replyTopic.vectors as { tenant: string; agent: string; topic: string }[])(
    'names the reply topic of $tenant/$agent',
    (v) => {
      expect(replyTopic(v.tenant, v.agent)).toBe(v.topic);
    },
  );

  const { jwk, thumbprint } = vectors.proofKey;
  const key = {
    privateKey: createPrivateKey({ key: jwk, format: 'jwk' }),
    jwk: { kty: 'OKP' as const, crv: 'Ed25519' as const, x: jwk.x as string },
  };

  it('has the RFC 7638 thumbprint of the test key', () => {
    expect(jwkThumbprint(key.jwk)).toBe(thumbprint);
  });

  it('signs and verifies the request proof of the vector', () => {
    const v = vectors.requestProof;
    const r = fromJson(GateRequestedSchema, v.request);
    expect(tokenHash(r.agentToken)).toBe(v.agentTokenHash);
    expect(canonicalJson(requestProofInput(r))).toBe(v.proofInput);
    expect(proofDigest(requestProofInput(r))).toBe(v.digest);
    expect(requestProof(r, key)).toBe(v.proof);
    expect(requestProofProblem({ ...r, requestProof: v.proof }, thumbprint)).toBeUndefined();
    expect(requestProofProblem({ ...r, requestProof: v.proof, environment: 'dev' }, thumbprint)).toMatch(
      /does not cover this request/,
    );
    expect(requestProofProblem({ ...r, requestProof: v.proof, requestId: 'other' }, thumbprint)).toMatch(/for request/);
    expect(requestProofProblem({ ...r, requestProof: v.proof }, 'another-key')).toMatch(/another key/);
  });

  it('signs and verifies the outcome proof of the vector', () => {
    const v = vectors.outcomeProof;
    const o = fromJson(StepCompletedSchema, v.outcome);
    expect(canonicalJson(outcomeProofInput(o))).toBe(v.proofInput);
    expect(proofDigest(outcomeProofInput(o))).toBe(v.digest);
    expect(outcomeProof(o, key)).toBe(v.proof);
    expect(outcomeProofProblem({ ...o, outcomeProof: v.proof }, thumbprint)).toBeUndefined();
    expect(outcomeProofProblem({ ...o, outcomeProof: v.proof, actualTokens: 1 }, thumbprint)).toMatch(/does not cover/);
  });
});
