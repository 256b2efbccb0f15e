import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  ApprovalGrantedSchema,
  BudgetDefinedSchema,
  encode,
  KeyUse,
  KillSwitchReleasedSchema,
  SigningKeyRotatedSchema,
  Topic,
  TopicName,
  WireRecord,
} from '@warden/contracts';
import {
  AUTHORITY_HEADERS,
  AUTHORITY_OWNERS,
  authorityJwk,
  authorityJwks,
  AuthorityVerifier,
  deriveAuthorityKey,
  needsAuthorityKeys,
  ownsAuthorityTopics,
  parseAuthorityJwks,
  parseCutOver,
  signAuthority,
} from './authority';

const kek = randomBytes(32);
const approval = deriveAuthorityKey(kek, 'approval');

function granted(id = 'evt-1', taskId = 'task-1'): WireRecord {
  return encode({
    id,
    type: ApprovalGrantedSchema.typeName,
    source: 'warden://approval/approval-tasks',
    time: 1_700_000_000_000,
    key: 'run-1',
    tenantId: 'acme',
    agentId: 'payroll-bot',
    runId: 'run-1',
    data: create(ApprovalGrantedSchema, { taskId, requestId: 'req-1', argumentsDigest: 'abc' }),
  });
}

const signed = (record: WireRecord, key = approval, topic: TopicName = Topic.approvalEvents) => ({
  ...record,
  headers: { ...record.headers, ...signAuthority(topic, record, key) },
});

const at = (record: WireRecord, offset = 7, partition = 0) => ({ ...record, partition, offset: String(offset) });

describe('signed authority events', () => {
  const verifier = new AuthorityVerifier([kek]);

  it('accepts a record signed by the owner of its topic', () => {
    expect(verifier.check(Topic.approvalEvents, at(signed(granted())))).toEqual({ ok: true });
  });

  it('derives the same key from the same KEK, and another from another KEK or service', () => {
    expect(deriveAuthorityKey(kek, 'approval').kid).toBe(approval.kid);
    expect(deriveAuthorityKey(randomBytes(32), 'approval').kid).not.toBe(approval.kid);
    expect(deriveAuthorityKey(kek, 'killswitch').kid).not.toBe(approval.kid);
    expect(approval.kid).toMatch(/^approval\.[A-Za-z0-9_-]{12}$/);
  });

  it('refuses an unsigned record', () => {
    expect(verifier.check(Topic.approvalEvents, at(granted()))).toMatchObject({ ok: false, code: 'unsigned' });
  });

  it('refuses tampered data', () => {
    const record = signed(granted());
    const other = granted('evt-1', 'forged');
    expect(other.value.equals(record.value)).toBe(false);
    expect(verifier.check(Topic.approvalEvents, at({ ...record, value: other.value }))).toMatchObject({
      ok: false,
      code: 'bad_signature',
    });
  });

  it('refuses tampered envelope attributes: type, key, tenant, source, time', () => {
    const record = signed(granted());
    const variants = [
      { ...record, headers: { ...record.headers, ce_type: 'warden.approval.v1.ApprovalDenied' } },
      { ...record, key: 'run-2' },
      { ...record, headers: { ...record.headers, ce_tenantid: 'other' } },
      { ...record, headers: { ...record.headers, ce_source: 'warden://agent' } },
      { ...record, headers: { ...record.headers, ce_time: new Date(0).toISOString() } },
    ];
    for (const v of variants)
      expect(verifier.check(Topic.approvalEvents, at(v))).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('refuses a signature replayed on another event id', () => {
    const genuine = signed(granted('evt-1'));
    const copy = granted('evt-2');
    const replayed = {
      ...copy,
      headers: {
        ...copy.headers,
        [AUTHORITY_HEADERS.kid]: genuine.headers[AUTHORITY_HEADERS.kid],
        [AUTHORITY_HEADERS.signature]: genuine.headers[AUTHORITY_HEADERS.signature],
      },
    };
    expect(verifier.check(Topic.approvalEvents, at(replayed))).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('refuses a record of one topic signed for another (the topic is signed)', () => {
    const record = signed(granted(), approval, Topic.approvalCommands);
    expect(verifier.check(Topic.approvalEvents, at(record))).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('refuses the key of another service, and a key derived from another KEK', () => {
    const byKillswitch = signed(granted(), deriveAuthorityKey(kek, 'killswitch'));
    expect(verifier.check(Topic.approvalEvents, at(byKillswitch))).toMatchObject({ ok: false, code: 'wrong_signer' });
    const release = encode({
      id: 'evt-9',
      type: KillSwitchReleasedSchema.typeName,
      source: 'warden://killswitch',
      time: 1,
      key: 'sw-1',
      tenantId: 'acme',
      agentId: '',
      runId: '',
      data: create(KillSwitchReleasedSchema, { switchId: 'sw-1' }),
    });
    const releasedByApproval = signed(release, approval, Topic.killswitchEvents);
    expect(verifier.check(Topic.killswitchEvents, at(releasedByApproval))).toMatchObject({
      ok: false,
      code: 'wrong_signer',
    });
    const otherKek = signed(granted(), deriveAuthorityKey(randomBytes(32), 'approval'));
    expect(verifier.check(Topic.approvalEvents, at(otherKek))).toMatchObject({ ok: false, code: 'wrong_signer' });
  });

  it('accepts keys of a previous KEK after a rotation', () => {
    const next = randomBytes(32);
    const rotated = new AuthorityVerifier([next, kek]);
    expect(rotated.check(Topic.approvalEvents, at(signed(granted())))).toEqual({ ok: true });
    expect(new AuthorityVerifier([next]).check(Topic.approvalEvents, at(signed(granted())))).toMatchObject({
      ok: false,
    });
  });

  it('fails closed without a KEK', () => {
    expect(new AuthorityVerifier([]).check(Topic.approvalEvents, at(signed(granted())))).toMatchObject({
      ok: false,
      code: 'no_verification_key',
    });
  });

  it('passes records of other topics', () => {
    expect(verifier.check(Topic.gateDecisions, at(granted()))).toEqual({ ok: true });
  });

  it('accepts unsigned history only below the cut-over of its partition', () => {
    const cut = new AuthorityVerifier([kek], parseCutOver('approval.events/0@10, approval.events/2@3'));
    expect(cut.check(Topic.approvalEvents, at(granted(), 9, 0))).toEqual({ ok: true, legacy: true });
    expect(cut.check(Topic.approvalEvents, at(granted(), 10, 0))).toMatchObject({ ok: false, code: 'unsigned' });
    expect(cut.check(Topic.approvalEvents, at(granted(), 0, 1))).toMatchObject({ ok: false, code: 'unsigned' });
    expect(cut.check(Topic.approvalEvents, at(granted(), 2, 2))).toEqual({ ok: true, legacy: true });
    // A signed record below the cut-over is still verified.
    const bad = { ...signed(granted()), key: 'run-2' };
    expect(cut.check(Topic.approvalEvents, at(bad, 1, 0))).toMatchObject({ ok: false, code: 'bad_signature' });
  });

  it('parses the cut-over and names a wrong entry', () => {
    expect(parseCutOver('')).toEqual(new Map());
    expect(() => parseCutOver('gate.decisions/0@1')).toThrow('gate.decisions/0@1');
    expect(() => parseCutOver('approval.events@1')).toThrow('approval.events@1');
  });

  describe('the registry and budget families', () => {
    const rotated = encode({
      id: 'evt-k',
      type: SigningKeyRotatedSchema.typeName,
      source: 'warden://registry',
      time: 1,
      key: 'keys',
      tenantId: '',
      agentId: '',
      runId: '',
      data: create(SigningKeyRotatedSchema, { kid: 'k1', use: KeyUse.AGENT_TOKEN, alg: 'EdDSA', publicJwk: '{}' }),
    });

    const raised = encode({
      id: 'evt-b',
      type: BudgetDefinedSchema.typeName,
      source: 'warden://budget',
      time: 1,
      key: 'acme',
      tenantId: 'acme',
      agentId: '',
      runId: '',
      data: create(BudgetDefinedSchema, { budgetId: 'b1', tenantId: 'acme' }),
    });

    it('registry.events is signed by registry, the budget topics by budget; gate.rerouted (agent input) by nobody', () => {
      expect(AUTHORITY_OWNERS.get(Topic.registryEvents)).toBe('registry');
      for (const t of [Topic.budgetEvents, Topic.budgetReservations, Topic.budgetHolds, Topic.budgetLedger])
        expect(AUTHORITY_OWNERS.get(t)).toBe('budget');
      expect(AUTHORITY_OWNERS.get(Topic.policyEvents)).toBe('policy');
      expect(AUTHORITY_OWNERS.has(Topic.gateRerouted)).toBe(false);
      expect(
        verifier.check(
          Topic.registryEvents,
          at(signed(rotated, deriveAuthorityKey(kek, 'registry'), Topic.registryEvents)),
        ),
      ).toEqual({ ok: true });
      expect(verifier.check(Topic.registryEvents, at(rotated))).toMatchObject({ ok: false, code: 'unsigned' });
      const otherKek = deriveAuthorityKey(randomBytes(32), 'registry');
      expect(verifier.check(Topic.registryEvents, at(signed(rotated, otherKek, Topic.registryEvents)))).toMatchObject({
        ok: false,
        code: 'wrong_signer',
      });
      expect(
        verifier.check(Topic.budgetEvents, at(signed(raised, deriveAuthorityKey(kek, 'budget'), Topic.budgetEvents))),
      ).toEqual({ ok: true });
      expect(verifier.check(Topic.budgetEvents, at(raised))).toMatchObject({ ok: false, code: 'unsigned' });
      expect(verifier.check(Topic.budgetEvents, at(signed(raised, approval, Topic.budgetEvents)))).toMatchObject({
        ok: false,
        code: 'wrong_signer',
      });
    });

    it('owners (policy signs its bundles) need the KEK; the gateway verifies only; trace does neither', () => {
      for (const s of ['registry', 'budget', 'approval', 'killswitch', 'policy'])
        expect(ownsAuthorityTopics(s)).toBe(true);
      expect(ownsAuthorityTopics('gateway')).toBe(false);
      for (const s of ['policy', 'gateway']) expect(needsAuthorityKeys(s)).toBe(true);
      expect(needsAuthorityKeys('trace')).toBe(false);
    });
  });

  describe('public keys (a verifier without the KEK)', () => {
    const jwks = JSON.stringify({
      keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'x', kid: 'agent', warden_use: 'agent_token' }, ...authorityJwks([kek])],
    });

    it('lists one key per owner, with its kid and warden_use authority:<service>, no private part', () => {
      const keys = authorityJwks([kek]);
      expect(keys.map((k) => k.warden_use).sort()).toEqual(
        [...new Set(AUTHORITY_OWNERS.values())].map((s) => `authority:${s}`).sort(),
      );
      expect(keys.find((k) => k.warden_use === 'authority:approval')).toMatchObject({
        kid: approval.kid,
        kty: 'OKP',
        crv: 'Ed25519',
        alg: 'EdDSA',
        use: 'sig',
      });
      for (const k of keys) expect(k).not.toHaveProperty('d');
    });

    it('verifies with the public keys alone, as with the KEK, and refuses the same forgeries', () => {
      const publicOnly = new AuthorityVerifier([], new Map(), parseAuthorityJwks(jwks));
      expect(publicOnly.check(Topic.approvalEvents, at(signed(granted())))).toEqual({ ok: true });
      expect(publicOnly.check(Topic.approvalEvents, at(granted()))).toMatchObject({ ok: false, code: 'unsigned' });
      expect(
        publicOnly.check(Topic.approvalEvents, at(signed(granted(), deriveAuthorityKey(kek, 'killswitch')))),
      ).toMatchObject({ ok: false, code: 'wrong_signer' });
      expect(
        publicOnly.check(Topic.approvalEvents, at(signed(granted(), deriveAuthorityKey(randomBytes(32), 'approval')))),
      ).toMatchObject({ ok: false, code: 'wrong_signer' });
    });

    it('refuses a key whose kid is not its fingerprint, or that is not Ed25519; ignores other uses', () => {
      const other = authorityJwk(deriveAuthorityKey(randomBytes(32), 'approval'));
      expect(() => parseAuthorityJwks(JSON.stringify([{ ...other, kid: approval.kid }]))).toThrow('must be');
      expect(() => parseAuthorityJwks(JSON.stringify([{ ...other, kty: 'RSA' }]))).toThrow('not an Ed25519');
      expect(parseAuthorityJwks(JSON.stringify({ keys: [{ kid: 'a', warden_use: 'decision_token' }] }))).toEqual([]);
      expect(parseAuthorityJwks('')).toEqual([]);
      expect(() => parseAuthorityJwks('{}')).toThrow('JWKS');
    });
  });
});
