import {
  Envelope,
  is,
  PolicyBundleActivatedSchema,
  PolicyBundlePublished,
  PolicyBundlePublishedSchema,
  PolicyBundleRolledBackSchema,
  ShadowBundleClearedSchema,
  ShadowBundleSetSchema,
} from '@warden/contracts';
import { CompiledBundle, RuleVerdict } from './api';
import { activeVersionAt, BundleEvent, bundleRepository, BundleRepositoryState, rulesOf } from './bundle-repository';
import { compileRules } from './compile';

/** One tenant's bundles as the gate sees them, with each version compiled at most once. */
export interface BundleDirectoryEntry {
  readonly repository: BundleRepositoryState;
  /** Compiled versions by digest, filled on first use and carried from one state to the next. */
  readonly compiled: Map<string, CompiledBundle>;
}

/** Every tenant's bundle repository, folded from policy.events (keyed by tenant id). */
export type BundleDirectory = ReadonlyMap<string, BundleDirectoryEntry>;

export const emptyBundleDirectory = (): BundleDirectory => new Map();

const BUNDLE_EVENTS = [
  PolicyBundlePublishedSchema,
  PolicyBundleActivatedSchema,
  PolicyBundleRolledBackSchema,
  ShadowBundleSetSchema,
  ShadowBundleClearedSchema,
] as const;

function bundleEventOf(envelope: Envelope): BundleEvent | undefined {
  for (const schema of BUNDLE_EVENTS) if (is(envelope, schema)) return envelope.data as BundleEvent;
  return undefined;
}

/** Folds one policy.events record into the directory; other records leave it unchanged. */
export function evolveBundleDirectory(directory: BundleDirectory, envelope: Envelope): BundleDirectory {
  const event = bundleEventOf(envelope);
  if (!event) return directory;
  const tenantId = event.tenantId;
  const entry = directory.get(tenantId);
  const before = entry?.repository ?? bundleRepository.initialState;
  const after = bundleRepository.evolve(before, event);
  if (after === before) return directory;
  return new Map(directory).set(tenantId, { repository: after, compiled: entry?.compiled ?? new Map() });
}

/** A version that no longer compiles (e.g. after an engine upgrade) fails closed: every rule errs. */
function failingBundle(published: PolicyBundlePublished, message: string): CompiledBundle {
  const verdicts: RuleVerdict[] = published.rules.map((r) => ({
    ruleId: r.id,
    version: published.version,
    result: 'error',
    risk: r.risk,
    reason: `bundle ${published.bundleId}@${published.version} does not compile: ${message}`,
  }));
  return {
    bundleId: published.bundleId,
    tenantId: published.tenantId,
    version: published.version,
    digest: published.digest,
    evaluate: () => verdicts,
  };
}

/** Compiles a published version (once per digest within a directory entry). */
export function compiledVersion(entry: BundleDirectoryEntry, version: string): CompiledBundle | undefined {
  const published = entry.repository.versions.get(version);
  if (!published) return undefined;
  const cached = entry.compiled.get(published.digest);
  if (cached) return cached;
  let compiled: CompiledBundle;
  try {
    compiled = compileBundle(published);
  } catch (error) {
    compiled = failingBundle(published, (error as Error).message);
  }
  entry.compiled.set(published.digest, compiled);
  return compiled;
}

/** Compiles a published bundle version; throws BundleCompileError naming each rule at fault. */
export function compileBundle(published: PolicyBundlePublished): CompiledBundle {
  return compileRules({
    bundleId: published.bundleId,
    tenantId: published.tenantId,
    version: published.version,
    digest: published.digest,
    rules: rulesOf(published),
  });
}

/** The tenant's bundle in effect at `nowMs` on the decision clock, compiled; undefined when none. */
export function activeBundleAt(
  directory: BundleDirectory,
  tenantId: string,
  nowMs: number,
): CompiledBundle | undefined {
  const entry = directory.get(tenantId);
  if (!entry) return undefined;
  const version = activeVersionAt(entry.repository, nowMs);
  return version === '' ? undefined : compiledVersion(entry, version);
}

/** The tenant's shadow candidate, compiled; undefined when none is set. */
export function shadowBundleOf(directory: BundleDirectory, tenantId: string): CompiledBundle | undefined {
  const entry = directory.get(tenantId);
  if (!entry || entry.repository.shadow === '') return undefined;
  return compiledVersion(entry, entry.repository.shadow);
}
