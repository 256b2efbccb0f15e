import { DataClass } from './gen/warden/gate/v1/gate_pb';

/**
 * Redaction at the gate (docs/adr/0070, docs/protocol.md "Redaction"): before anything about a
 * request is persisted, the gate replaces in its arguments
 * - every value under a key that names a secret (password, token, api key, ...),
 * - every string that looks like a credential (a JWT, a bearer token, a private key, a cloud or
 *   SaaS key) or holds a payment card number,
 * - every value the pinned tool contract's input schema marks with `x-warden-data-class` of a
 *   class the gate never keeps (`secret`, `pci`, `phi`, `pii`),
 * by the string `[redacted]`, and lists the JSON pointers it replaced. The digest the tool checks
 * is computed from the arguments before redaction.
 */
export const REDACTED = '[redacted]';

/** Keys whose values are secrets. */
export const SECRET_KEY =
  /pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|authorization|credential|cookie|ssn|cvv|cvc|card/i;

const SECRET_VALUES: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/, // JWT / JWS compact
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}/i,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/, // AWS access key id
  /\bgh[pousr]_[A-Za-z0-9]{30,}\b/, // GitHub tokens
  /\bxox[abprs]-[A-Za-z0-9-]{10,}\b/, // Slack tokens
  /\b(sk|rk)_(live|test)_[A-Za-z0-9]{16,}\b/, // Stripe keys
  /\bsk-[A-Za-z0-9_-]{20,}\b/, // model-provider API keys
];

const CARD = /\b(?:\d[ -]?){12,18}\d\b/g;

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Whether a string looks like a credential or holds a card number. */
export function looksSecret(value: string): boolean {
  if (SECRET_VALUES.some((re) => re.test(value))) return true;
  for (const match of value.match(CARD) ?? []) {
    const digits = match.replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhn(digits)) return true;
  }
  return false;
}

/** Data classes whose values never leave the gate. */
const NEVER_KEPT = new Set(['secret', 'pci', 'phi', 'pii']);

/** A JSON pointer pattern (`*` matches any one member or item) the contract marks with a data class. */
export interface RedactionMark {
  readonly pointer: readonly string[];
  readonly dataClass: string;
}

/**
 * The marks of a JSON Schema: every subschema with `x-warden-data-class` (through `properties`,
 * `items`, `additionalProperties`, `patternProperties`), as pointer patterns.
 */
export function redactionMarks(schemaJson: string): RedactionMark[] {
  let schema: unknown;
  try {
    schema = JSON.parse(schemaJson || '{}');
  } catch {
    return [];
  }
  const marks: RedactionMark[] = [];
  const walk = (node: unknown, at: string[]) => {
    if (!node || typeof node !== 'object' || at.length > 32) return;
    const s = node as Record<string, unknown>;
    const cls = s['x-warden-data-class'];
    if (typeof cls === 'string' && NEVER_KEPT.has(cls.toLowerCase())) {
      marks.push({ pointer: at, dataClass: cls.toLowerCase() });
    }
    if (s.properties && typeof s.properties === 'object') {
      for (const [k, v] of Object.entries(s.properties)) walk(v, [...at, k]);
    }
    if (s.patternProperties && typeof s.patternProperties === 'object') {
      for (const v of Object.values(s.patternProperties)) walk(v, [...at, '*']);
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object')
      walk(s.additionalProperties, [...at, '*']);
    if (s.items && typeof s.items === 'object') walk(s.items, [...at, '*']);
    for (const k of ['allOf', 'anyOf', 'oneOf']) {
      if (Array.isArray(s[k])) for (const sub of s[k] as unknown[]) walk(sub, at);
    }
  };
  walk(schema, []);
  return marks;
}

const escape = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');

const marked = (marks: readonly RedactionMark[], at: readonly string[]) =>
  marks.some((m) => m.pointer.length === at.length && m.pointer.every((p, i) => p === '*' || p === at[i]));

/** The request's data classes that make every string of its arguments a secret. */
const ALL_SECRET = new Set([DataClass.SECRET]);

/**
 * Redacts arguments (a JSON object). With `dataClasses` containing SECRET, every string value is
 * redacted. Returns the redacted copy and the JSON pointers of what was replaced, in order.
 */
export function redactArguments(
  args: Record<string, unknown>,
  marks: readonly RedactionMark[] = [],
  dataClasses: readonly DataClass[] = [],
): { redacted: Record<string, unknown>; paths: string[] } {
  const paths: string[] = [];
  const allStrings = dataClasses.some((c) => ALL_SECRET.has(c));
  const walk = (value: unknown, at: string[], secretKey: boolean): unknown => {
    const redact = () => {
      paths.push(at.length ? `/${at.map(escape).join('/')}` : '');
      return REDACTED;
    };
    if (at.length > 0 && (secretKey || marked(marks, at))) return redact();
    if (typeof value === 'string') return allStrings || looksSecret(value) ? redact() : value;
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...at, String(i)], false));
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, walk(v, [...at, k], SECRET_KEY.test(k))]),
      );
    }
    return value;
  };
  return { redacted: walk(args, [], false) as Record<string, unknown>, paths };
}

/** Redacts a free-text field (an error message): the whole text if it holds something secret-looking. */
export function redactText(text: string): string {
  return looksSecret(text) ? REDACTED : text;
}
