import { createHash, createPrivateKey, createPublicKey, hkdfSync, KeyObject, sign, verify } from 'node:crypto';
import { Topic, TopicName } from '@warden/contracts';

/**
 * Signed authority events (docs/adr/0118). Every record on a topic whose events confer authority
 * (an approval, a vote, a kill switch and its release, a registry grant or signing key, a budget
 * limit, hold or reservation) carries an Ed25519 signature by the key of
 * the service that owns the topic, in two CloudEvents extension headers. Consumers that act on
 * these topics refuse a record that is unsigned, signed by another key, or altered.
 *
 * Keys are derived, not stored: the private key of service S is the Ed25519 key whose seed is
 * HKDF-SHA256(KEK, salt "warden/authority/v1", info S). Whoever holds the key-encryption key
 * (WARDEN_KEY_ENCRYPTION_KEY) can derive every service's key: the signature tells a Warden service
 * from a principal that only has Kafka produce rights, not one Warden service from another.
 */
export const AUTHORITY_HEADERS = { kid: 'ce_wardenkid', signature: 'ce_wardensig' } as const;

/** The topics whose every record must be signed, and the service whose key signs them. */
export const AUTHORITY_OWNERS: ReadonlyMap<TopicName, string> = new Map<TopicName, string>([
  [Topic.approvalEvents, 'approval'],
  [Topic.approvalCommands, 'approval'],
  [Topic.killswitchEvents, 'killswitch'],
  // Agents' lifecycle, credentials, delegation and tool grants, tool contracts, token signing keys.
  [Topic.registryEvents, 'registry'],
  // Budget definitions (limits), the run stage's reservations (policy's input), the tenant ledger's
  // holds and its changelog: every topic budget writes but gate.rerouted (agent input, forwarded).
  [Topic.budgetEvents, 'budget'],
  [Topic.budgetReservations, 'budget'],
  [Topic.budgetHolds, 'budget'],
  [Topic.budgetLedger, 'budget'],
  // Policy bundles: published, activated, rolled back (which rules decide).
  [Topic.policyEvents, 'policy'],
]);

/**
 * The services that verify what they read from authority topics (trace records what it reads, see
 * the ADR), and the HTTP gate, which folds the registry's signing keys.
 */
export const AUTHORITY_VERIFIERS: ReadonlySet<string> = new Set([
  'policy',
  'approval',
  'killswitch',
  'budget',
  'registry',
  'gateway',
]);

/** Services that sign or verify authority events, so need the key-encryption key (or, to verify only, the public keys). */
export function needsAuthorityKeys(service: string): boolean {
  return AUTHORITY_VERIFIERS.has(service) || ownsAuthorityTopics(service);
}

/** Services that sign what they publish to authority topics, so need the key-encryption key itself. */
export function ownsAuthorityTopics(service: string): boolean {
  return [...AUTHORITY_OWNERS.values()].includes(service);
}

const DOMAIN = 'warden/authority/v1';
/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface AuthorityKey {
  readonly service: string;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** The signing key of `service` derived from the KEK (32 bytes). */
export function deriveAuthorityKey(kek: Buffer, service: string): AuthorityKey {
  if (kek.length !== 32) throw new Error('the key-encryption key must be 32 bytes');
  const seed = Buffer.from(hkdfSync('sha256', kek, DOMAIN, service, 32));
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  const raw = publicKey.export({ format: 'jwk' }).x as string;
  const fingerprint = createHash('sha256').update(raw).digest('base64url').slice(0, 12);
  return { service, kid: `${service}.${fingerprint}`, privateKey, publicKey };
}

/** What of a record is signed; the headers and value as they travel. */
export interface SignedParts {
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The digest signed: SHA-256 over the length-prefixed fields that give the record its meaning —
 * the topic (without the installation's prefix), the CloudEvents type, id, source, time, the
 * record key (stream), tenant, agent and run, the content type and the SHA-256 of the data bytes.
 * Trace context and other headers are not signed.
 */
export function authorityDigest(topic: TopicName, record: SignedParts): Buffer {
  const h = record.headers;
  const fields = [
    DOMAIN,
    topic,
    h.ce_type ?? '',
    h.ce_id ?? '',
    h.ce_source ?? '',
    h.ce_time ?? '',
    record.key ?? '',
    h.ce_tenantid ?? '',
    h.ce_agentid ?? '',
    h.ce_runid ?? '',
    h['content-type'] ?? '',
    createHash('sha256')
      .update(record.value ?? Buffer.alloc(0))
      .digest('hex'),
  ];
  const hash = createHash('sha256');
  for (const f of fields) {
    const bytes = Buffer.from(f, 'utf8');
    hash.update(`${bytes.length}:`).update(bytes).update('\n');
  }
  return hash.digest();
}

/** The two signature headers for a record on `topic`, signed with `key`. */
export function signAuthority(topic: TopicName, record: SignedParts, key: AuthorityKey): Record<string, string> {
  const signature = sign(null, authorityDigest(topic, record), key.privateKey).toString('base64url');
  return { [AUTHORITY_HEADERS.kid]: key.kid, [AUTHORITY_HEADERS.signature]: signature };
}

export type AuthorityFailure = 'unsigned' | 'wrong_signer' | 'bad_signature' | 'no_verification_key';

export type AuthorityVerdict =
  | { readonly ok: true; readonly legacy?: boolean }
  | { readonly ok: false; readonly code: AuthorityFailure; readonly reason: string };

/**
 * Where unsigned records are still accepted: per topic and partition, offsets below the cut-over
 * (the installation's history from before signatures, WARDEN_UNSIGNED_AUTHORITY_BEFORE).
 */
export type AuthorityCutOver = ReadonlyMap<string, number>;

/** Parses `approval.events/0@120,approval.events/1@98,...`; throws with the entry at fault. */
export function parseCutOver(text: string): AuthorityCutOver {
  const out = new Map<string, number>();
  for (const entry of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9._-]+)\/(\d+)@(\d+)$/.exec(entry);
    if (!m || !AUTHORITY_OWNERS.has(m[1] as TopicName))
      throw new Error(`"${entry}" is not <authority topic>/<partition>@<offset>`);
    out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  }
  return out;
}

/**
 * A service's authority public key as a JWK, as the registry's JWKS lists it
 * (GET /.well-known/jwks.json) for verifiers that do not hold the KEK.
 */
export interface AuthorityJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
  readonly key_ops: readonly ['verify'];
  /** `authority:<service>`: the service whose authority topics the key signs. */
  readonly warden_use: string;
}

const AUTHORITY_USE = 'authority:';

/** The public half of an authority key, as a JWK. */
export function authorityJwk(key: AuthorityKey): AuthorityJwk {
  return {
    kty: 'OKP',
    crv: 'Ed25519',
    x: key.publicKey.export({ format: 'jwk' }).x as string,
    kid: key.kid,
    alg: 'EdDSA',
    use: 'sig',
    key_ops: ['verify'],
    warden_use: `${AUTHORITY_USE}${key.service}`,
  };
}

/** The public keys of every owner of an authority topic derived from a KEK (the current one first). */
export function authorityJwks(keks: readonly Buffer[]): AuthorityJwk[] {
  const owners = [...new Set(AUTHORITY_OWNERS.values())];
  return keks.flatMap((kek) => owners.map((service) => authorityJwk(deriveAuthorityKey(kek, service))));
}

/**
 * Reads authority public keys (a JWKS, `{"keys": [...]}`, or an array of JWKs); keys of other
 * uses are ignored, a malformed authority key or a kid that is not its key's fingerprint throws.
 */
export function parseAuthorityJwks(text: string): AuthorityJwk[] {
  if (!text.trim()) return [];
  const parsed: unknown = JSON.parse(text);
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new Error('expected a JWKS ({"keys": [...]}) or an array of JWKs');
  return keys
    .filter((k) => typeof k?.warden_use === 'string' && k.warden_use.startsWith(AUTHORITY_USE))
    .map((k) => {
      const service = (k.warden_use as string).slice(AUTHORITY_USE.length);
      if (k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.x !== 'string')
        throw new Error(`${k.kid ?? 'a key'} is not an Ed25519 public key`);
      const fingerprint = createHash('sha256').update(k.x).digest('base64url').slice(0, 12);
      if (k.kid !== `${service}.${fingerprint}`)
        throw new Error(`${k.kid ?? 'a key'}: the kid of ${service}'s key must be ${service}.${fingerprint}`);
      return {
        kty: 'OKP',
        crv: 'Ed25519',
        x: k.x,
        kid: k.kid,
        alg: 'EdDSA',
        use: 'sig',
        key_ops: ['verify'],
        warden_use: k.warden_use,
      } satisfies AuthorityJwk;
    });
}

interface VerificationKey {
  readonly service: string;
  readonly publicKey: KeyObject;
}

/**
 * Verifies records read from authority topics against the keys derived from the KEKs: the current
 * one and, after a rotation, the previous ones (so history signed before still verifies) — or,
 * for a verifier that does not hold the KEK, against the public keys it is given. Without a key
 * every record of an authority topic is refused (fail closed).
 */
export class AuthorityVerifier {
  private readonly keys = new Map<string, VerificationKey>();

  constructor(
    keks: readonly Buffer[],
    private readonly cutOver: AuthorityCutOver = new Map(),
    publicKeys: readonly AuthorityJwk[] = [],
  ) {
    for (const kek of keks)
      for (const service of new Set(AUTHORITY_OWNERS.values())) {
        const key = deriveAuthorityKey(kek, service);
        this.keys.set(key.kid, key);
      }
    for (const jwk of publicKeys)
      this.keys.set(jwk.kid, {
        service: jwk.warden_use.slice(AUTHORITY_USE.length),
        publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }),
      });
  }

  /** Whether records of `topic` (without prefix) are checked. */
  covers(topic: TopicName): boolean {
    return AUTHORITY_OWNERS.has(topic);
  }

  /** The verdict on a record of `topic` (without prefix); records of other topics pass. */
  check(
    topic: TopicName,
    record: SignedParts & { readonly partition: number; readonly offset: string },
  ): AuthorityVerdict {
    const owner = AUTHORITY_OWNERS.get(topic);
    if (!owner) return { ok: true };
    const kid = record.headers[AUTHORITY_HEADERS.kid];
    const signature = record.headers[AUTHORITY_HEADERS.signature];
    if (!kid || !signature) {
      const before = this.cutOver.get(`${topic}/${record.partition}`);
      if (before !== undefined && Number(record.offset) < before) return { ok: true, legacy: true };
      return { ok: false, code: 'unsigned', reason: `${topic} records must be signed by ${owner}; this one is not` };
    }
    if (this.keys.size === 0)
      return {
        ok: false,
        code: 'no_verification_key',
        reason: 'no key-encryption key or authority public key: cannot verify signatures',
      };
    const key = this.keys.get(kid);
    if (!key || key.service !== owner)
      return {
        ok: false,
        code: 'wrong_signer',
        reason: `${topic} records are signed by ${owner}; key ${kid} is not its key`,
      };
    let valid = false;
    try {
      valid = verify(null, authorityDigest(topic, record), key.publicKey, Buffer.from(signature, 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid)
      return { ok: false, code: 'bad_signature', reason: `the signature of ${kid} does not match this record` };
    return { ok: true };
  }
}

/** The dead-letter code of a refused authority record. */
export const forgedCode = (code: AuthorityFailure): string => `forged:${code}`;
