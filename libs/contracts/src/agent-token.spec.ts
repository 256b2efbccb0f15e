import { generateKeyPairSync, KeyObject, sign as signBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { evolvePublicKeys, PublicKeys, verifyAgentToken } from './agent-token';
import { KeyUse, SigningKeyRetiredSchema, SigningKeyRotatedSchema } from './gen/warden/registry/v1/registry_pb';

describe('verifyAgentToken', () => {
  const atMs = 1_700_000_000_000;
  const iat = atMs / 1000;
  let keys: PublicKeys = new Map();
  let sign: (claims: Record<string, unknown>, kid?: string) => Promise<string>;
  let other: (claims: Record<string, unknown>) => Promise<string>;
  const expect_ = { agentId: 'bot', tenantId: 'acme', atMs, revokedCredentials: new Set<string>() };
  const claims = {
    iss: 'warden-registry',
    aud: 'warden-gate',
    sub: 'bot',
    tenant: 'acme',
    cid: 'c1',
    jti: 'j1',
    cnf: { jkt: 'thumb' },
  };

  beforeAll(() => {
    const pair = generateKeyPairSync('ed25519');
    const stranger = generateKeyPairSync('ed25519');
    const rotated = (kid: string, use: KeyUse, jwk: object) =>
      create(SigningKeyRotatedSchema, { kid, use, alg: 'EdDSA', publicJwk: JSON.stringify(jwk) });
    const jwk = pair.publicKey.export({ format: 'jwk' });
    keys = evolvePublicKeys(keys, rotated('k1', KeyUse.AGENT_TOKEN, jwk));
    keys = evolvePublicKeys(keys, rotated('d1', KeyUse.DECISION_TOKEN, jwk));
    keys = evolvePublicKeys(keys, rotated('gone', KeyUse.AGENT_TOKEN, jwk));
    keys = evolvePublicKeys(keys, create(SigningKeyRetiredSchema, { kid: 'gone', use: KeyUse.AGENT_TOKEN }));
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const jwt = async (key: KeyObject, kid: string, c: Record<string, unknown>) => {
      const input = `${b64({ alg: 'EdDSA', kid, typ: 'JWT' })}.${b64(c)}`;
      return `${input}.${signBytes(null, Buffer.from(input), key).toString('base64url')}`;
    };
    sign = (c, kid = 'k1') => jwt(pair.privateKey, kid, { iat, exp: iat + 300, ...claims, ...c });
    other = (c) => jwt(stranger.privateKey, 'k1', { iat, exp: iat + 300, ...claims, ...c });
  });

  it('accepts a token signed by a live agent-token key for the request’s agent and tenant', async () => {
    const verdict = verifyAgentToken(await sign({}), keys, expect_);
    expect(verdict).toEqual({ ok: true, claims: { ...claims, iat, exp: iat + 300 } });
  });

  it.each<[string, Record<string, unknown>, string | undefined, string]>([
    ['another agent', { sub: 'mallory' }, undefined, 'wrong_agent'],
    ['another tenant', { tenant: 'globex' }, undefined, 'wrong_tenant'],
    ['another issuer', { iss: 'someone' }, undefined, 'wrong_issuer'],
    ['another audience', { aud: 'tools' }, undefined, 'wrong_audience'],
    ['an expired token', { exp: iat - 60 }, undefined, 'token_expired'],
    ['a token from the future', { iat: iat + 600, exp: iat + 900 }, undefined, 'token_not_yet_valid'],
    ['a retired key', {}, 'gone', 'unknown_key'],
    ['a decision-token key', {}, 'd1', 'unknown_key'],
    ['an unknown key', {}, 'nope', 'unknown_key'],
    ['missing claims', { cid: undefined }, undefined, 'token_malformed'],
    ['a token bound to no key', { cnf: undefined }, undefined, 'token_unbound'],
  ])('refuses %s', async (_name, over, kid, reason) => {
    expect(verifyAgentToken(await sign(over, kid), keys, expect_)).toMatchObject({ ok: false, reason });
  });

  it('refuses a forged signature, a tampered payload, garbage and no token', async () => {
    expect(verifyAgentToken(await other({}), keys, expect_)).toMatchObject({ reason: 'bad_signature' });
    const [h, , s] = (await sign({})).split('.');
    const payload = Buffer.from(JSON.stringify({ ...claims, sub: 'bot', iat, exp: iat + 9999 })).toString('base64url');
    expect(verifyAgentToken(`${h}.${payload}.${s}`, keys, expect_)).toMatchObject({ reason: 'bad_signature' });
    expect(verifyAgentToken('a.b', keys, expect_)).toMatchObject({ reason: 'token_malformed' });
    expect(verifyAgentToken('!!.??.x', keys, expect_)).toMatchObject({ reason: 'token_malformed' });
    expect(verifyAgentToken('', keys, expect_)).toMatchObject({ reason: 'token_missing' });
  });

  it('refuses a token of a revoked credential', async () => {
    const verdict = verifyAgentToken(await sign({}), keys, { ...expect_, revokedCredentials: new Set(['c1']) });
    expect(verdict).toMatchObject({ ok: false, reason: 'credential_revoked' });
  });
});
