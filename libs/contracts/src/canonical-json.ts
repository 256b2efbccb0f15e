import { createHash } from 'node:crypto';

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): object members sorted by the UTF-16 code units of
 * their names, no whitespace, strings and numbers serialized as ECMAScript does (JSON.stringify).
 * Non-finite numbers, lone surrogates and values JSON cannot hold are refused. The arguments
 * digest of a gate request is `sha256:` + hex SHA-256 of this text (docs/protocol.md, with test
 * vectors in docs/protocol-vectors.json that every SDK checks).
 */
export class CanonicalJsonError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path || '/'}: ${message}`);
    this.name = 'CanonicalJsonError';
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function str(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError(path, 'a string holds a lone surrogate');
  return JSON.stringify(value);
}

const pointer = (path: string, key: string | number) =>
  `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

export function canonicalJson(value: unknown, path = ''): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(path, `${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'string':
      return str(value, path);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, pointer(path, i))).join(',')}]`;
      const names = Object.keys(value).sort();
      const members = names.map(
        (k) => `${str(k, path)}:${canonicalJson((value as Record<string, unknown>)[k], pointer(path, k))}`,
      );
      return `{${members.join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(path, `a ${typeof value} is not a JSON value`);
  }
}

/** The arguments digest: `sha256:` + hex SHA-256 of the canonical JSON (UTF-8). */
export function argumentsDigest(args: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(args), 'utf8').digest('hex')}`;
}
