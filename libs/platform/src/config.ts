import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import type { AdminAuthConfig } from './auth/admin-auth';
import type { KafkaSecurity } from './kafka/port';
import { AuthorityCutOver, AuthorityJwk, parseAuthorityJwks, parseCutOver } from './crypto/authority';

/**
 * Configuration from the environment, validated at start. A missing or wrong value stops the
 * process with a message naming every variable at fault.
 */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;
interface Field<T> {
  readonly read: (env: Env) => T;
}

class Problem extends Error {}

function raw(env: Env, name: string, fallback: string | undefined): string {
  const value = env[name];
  if (value !== undefined && value.trim() !== '') return value.trim();
  if (fallback !== undefined) return fallback;
  throw new Problem(`${name} is required`);
}

export const env = {
  string(name: string, fallback?: string): Field<string> {
    return { read: (e) => raw(e, name, fallback) };
  },
  int(name: string, fallback?: number, range: { min?: number; max?: number } = {}): Field<number> {
    return {
      read: (e) => {
        const text = raw(e, name, fallback?.toString());
        const value = Number(text);
        if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value)) {
          throw new Problem(`${name} must be an integer, got "${text}"`);
        }
        if (range.min !== undefined && value < range.min)
          throw new Problem(`${name} must be >= ${range.min}, got ${value}`);
        if (range.max !== undefined && value > range.max)
          throw new Problem(`${name} must be <= ${range.max}, got ${value}`);
        return value;
      },
    };
  },
  port(name: string, fallback?: number): Field<number> {
    return env.int(name, fallback, { min: 0, max: 65535 });
  },
  list(name: string, fallback?: string): Field<string[]> {
    return {
      read: (e) => {
        const items = raw(e, name, fallback)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (items.length === 0) throw new Problem(`${name} must list at least one value`);
        return items;
      },
    };
  },
  brokers(name: string, fallback?: string): Field<string[]> {
    return {
      read: (e) => {
        const items = env.list(name, fallback).read(e);
        for (const item of items) {
          if (!/^[^:\s]+:\d{1,5}$/.test(item))
            throw new Problem(`${name} must be host:port[,host:port...], got "${item}"`);
        }
        return items;
      },
    };
  },
  url(name: string, protocols: readonly string[], fallback?: string): Field<string> {
    return {
      read: (e) => {
        const text = raw(e, name, fallback);
        let url: URL;
        try {
          url = new URL(text);
        } catch {
          throw new Problem(`${name} must be a URL, got "${redact(text)}"`);
        }
        if (!protocols.includes(url.protocol)) {
          throw new Problem(`${name} must use ${protocols.join(' or ')}, got "${url.protocol}"`);
        }
        return text;
      },
    };
  },
  oneOf<T extends string>(name: string, values: readonly T[], fallback?: T): Field<T> {
    return {
      read: (e) => {
        const text = raw(e, name, fallback);
        if (!values.includes(text as T))
          throw new Problem(`${name} must be one of ${values.join(', ')}, got "${text}"`);
        return text as T;
      },
    };
  },
  /** A base64 key of exactly `bytes` bytes (e.g. WARDEN_KEY_ENCRYPTION_KEY); never echoed in messages. */
  base64Key(name: string, bytes: number): Field<string> {
    return {
      read: (e) => {
        const text = raw(e, name, undefined);
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || Buffer.from(text, 'base64').length !== bytes)
          throw new Problem(`${name} must be ${bytes} bytes, base64 encoded`);
        return text;
      },
    };
  },
  /** `true`/`1` or `false`/`0`. */
  flag(name: string, fallback: boolean): Field<boolean> {
    return {
      read: (e) => {
        const text = raw(e, name, String(fallback)).toLowerCase();
        if (!['true', '1', 'false', '0'].includes(text))
          throw new Problem(`${name} must be true or false, got "${text}"`);
        return text === 'true' || text === '1';
      },
    };
  },
  pattern(name: string, re: RegExp, description: string, fallback?: string): Field<string> {
    return {
      read: (e) => {
        const text = e[name] ?? fallback ?? '';
        if (!re.test(text)) throw new Problem(`${name} must be ${description}, got "${text}"`);
        return text;
      },
    };
  },
};

/** The admin-API token issuer (ADR 0010); the JWKS inline, from a file, or from a URL (at most one). */
function adminAuth(): Field<AdminAuthConfig> {
  return {
    read: (e) => {
      const issuer = raw(e, 'WARDEN_AUTH_ISSUER', 'warden-dev');
      const audience = raw(e, 'WARDEN_AUTH_AUDIENCE', 'warden-admin');
      const inline = e.WARDEN_AUTH_JWKS?.trim();
      const file = e.WARDEN_AUTH_JWKS_FILE?.trim();
      const url = e.WARDEN_AUTH_JWKS_URL?.trim();
      if ([inline, file, url].filter(Boolean).length > 1)
        throw new Problem('set only one of WARDEN_AUTH_JWKS, WARDEN_AUTH_JWKS_FILE and WARDEN_AUTH_JWKS_URL');
      if (url) return { issuer, audience, jwksUrl: env.url('WARDEN_AUTH_JWKS_URL', ['https:', 'http:']).read(e) };
      if (file) {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (error) {
          throw new Problem(`WARDEN_AUTH_JWKS_FILE cannot be read: ${(error as Error).message}`);
        }
        return { issuer, audience, jwks: jwksOf(text, 'WARDEN_AUTH_JWKS_FILE') };
      }
      if (inline) return { issuer, audience, jwks: jwksOf(inline, 'WARDEN_AUTH_JWKS') };
      return { issuer, audience };
    },
  };
}

const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/**
 * How the services authenticate to Kafka (docs/security.md): TLS (`KAFKA_SSL`, optionally a CA
 * file) and SASL (`KAFKA_SASL_MECHANISM` with `KAFKA_SASL_USERNAME` and `KAFKA_SASL_PASSWORD`),
 * each service its own principal. Nothing set: plaintext without authentication (local broker).
 */
export function kafkaSecurity(): Field<KafkaSecurity> {
  return {
    read: (e) => {
      const ssl = env.flag('KAFKA_SSL', false).read(e);
      const caFile = e.KAFKA_SSL_CA_FILE?.trim();
      if (caFile && !ssl) throw new Problem('KAFKA_SSL_CA_FILE needs KAFKA_SSL=true');
      let ca: string | undefined;
      if (caFile) {
        try {
          ca = readFileSync(caFile, 'utf8');
        } catch (error) {
          throw new Problem(`KAFKA_SSL_CA_FILE cannot be read: ${(error as Error).message}`);
        }
      }
      const mechanism = e.KAFKA_SASL_MECHANISM?.trim().toLowerCase();
      const username = e.KAFKA_SASL_USERNAME?.trim();
      const password = e.KAFKA_SASL_PASSWORD;
      if (!mechanism) {
        if (username || password)
          throw new Problem('KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD need KAFKA_SASL_MECHANISM');
        return { ssl, ca };
      }
      if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism))
        throw new Problem(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(', ')}, got "${mechanism}"`);
      if (!username) throw new Problem('KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM');
      if (!password) throw new Problem('KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM');
      return { ssl, ca, sasl: { mechanism: mechanism as (typeof SASL_MECHANISMS)[number], username, password } };
    },
  };
}

function jwksOf(text: string, name: string): JSONWebKeySet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Problem(`${name} must be a JSON Web Key Set (JSON)`);
  }
  const keys = (value as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'object' || !k || !('kty' in k)))
    throw new Problem(`${name} must be {"keys": [<JWK with kty>, ...]}`);
  return value as JSONWebKeySet;
}

export type Schema<T> = { readonly [K in keyof T]: Field<T[K]> };

export function readConfig<T>(schema: Schema<T>, source: Env = process.env): T {
  const problems: string[] = [];
  const out: Partial<T> = {};
  for (const key of Object.keys(schema) as (keyof T)[]) {
    try {
      out[key] = schema[key].read(source);
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      problems.push(error.message);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as T;
}

function redact(text: string): string {
  return text.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}

/** What every Warden service reads from its environment. */
export interface PlatformConfig {
  readonly kafkaBrokers: string[];
  /** TLS and SASL towards Kafka; the service's principal. */
  readonly kafkaSecurity: KafkaSecurity;
  readonly topicPrefix: string;
  readonly partitions: number;
  readonly databaseUrl: string;
  readonly instanceId: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** How long the agent-facing topics keep raw agent input (docs/adr/0070). */
  readonly ingressRetentionMs: number;
  /** Who may call the admin APIs. */
  readonly auth: AdminAuthConfig;
  /**
   * Stop gracefully when standard input ends: a launcher (deploy/local/stack.ts) holds the pipe
   * open, so when the launcher dies, however it dies, its services stop too.
   */
  readonly stopOnStdinEnd: boolean;
  /**
   * Keys of signed authority events (docs/adr/0118): the key-encryption key they are derived from
   * (base64; '' when not set), previous ones still accepted for verification, and the cut-over
   * below which unsigned records of an installation's history are accepted.
   */
  readonly authority: AuthorityConfig;
}

export interface AuthorityConfig {
  readonly keyEncryptionKey: string;
  readonly previousKeyEncryptionKeys: readonly string[];
  readonly unsignedBefore: AuthorityCutOver;
  /**
   * The owners' public keys (WARDEN_AUTHORITY_PUBLIC_KEYS, a JWKS as the registry publishes it), for
   * a service that verifies but signs nothing and should not hold the KEK (the HTTP gate).
   */
  readonly publicKeys: readonly AuthorityJwk[];
}

const KEK = /^[A-Za-z0-9+/]{43}=$/;

function authorityConfig(): Field<AuthorityConfig> {
  return {
    read: (e) => {
      const keyEncryptionKey = env
        .pattern('WARDEN_KEY_ENCRYPTION_KEY', /^$|^[A-Za-z0-9+/]{43}=$/, '32 bytes, base64', '')
        .read(e);
      const previous = (e.WARDEN_PREVIOUS_KEY_ENCRYPTION_KEYS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (previous.some((k) => !KEK.test(k)))
        throw new Problem('WARDEN_PREVIOUS_KEY_ENCRYPTION_KEYS must list keys of 32 bytes, base64, comma-separated');
      let unsignedBefore: AuthorityCutOver;
      try {
        unsignedBefore = parseCutOver(e.WARDEN_UNSIGNED_AUTHORITY_BEFORE ?? '');
      } catch (error) {
        throw new Problem(`WARDEN_UNSIGNED_AUTHORITY_BEFORE: ${(error as Error).message}`);
      }
      let publicKeys: AuthorityJwk[];
      try {
        publicKeys = parseAuthorityJwks(e.WARDEN_AUTHORITY_PUBLIC_KEYS ?? '');
      } catch (error) {
        throw new Problem(`WARDEN_AUTHORITY_PUBLIC_KEYS: ${(error as Error).message}`);
      }
      return { keyEncryptionKey, previousKeyEncryptionKeys: previous, unsignedBefore, publicKeys };
    },
  };
}

export const platformSchema: Schema<PlatformConfig> = {
  kafkaBrokers: env.brokers('KAFKA_BROKERS', '127.0.0.1:19092'),
  kafkaSecurity: kafkaSecurity(),
  topicPrefix: env.pattern(
    'WARDEN_TOPIC_PREFIX',
    /^[a-zA-Z0-9._-]{0,100}$/,
    'letters, digits, ".", "_" or "-"',
    'warden.',
  ),
  partitions: env.int('WARDEN_PARTITIONS', 6, { min: 1, max: 1000 }),
  databaseUrl: env.url('DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/warden'),
  instanceId: env.pattern(
    'WARDEN_INSTANCE_ID',
    /^[a-zA-Z0-9._-]{1,64}$/,
    'a short id (letters, digits, ".", "_", "-")',
    `${process.pid}`,
  ),
  logLevel: env.oneOf('LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
  ingressRetentionMs: env.int('WARDEN_INGRESS_RETENTION_MS', 7 * 24 * 3600 * 1000, {
    min: 3_600_000,
    max: 365 * 24 * 3600 * 1000,
  }),
  auth: adminAuth(),
  stopOnStdinEnd: env.flag('WARDEN_STOP_ON_STDIN_END', false),
  authority: authorityConfig(),
};
