import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler, IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { invalid, notFound, ownTenant } from '@warden/kernel';
import {
  activeVersionAt,
  BundleCommand,
  BundleCompileError,
  BundleRepositoryState,
  emptyRepository,
  bundleVerdict,
  BundleDocument,
  compileRules,
  compiledVersion,
  diffBundles,
  digestOf,
  firedRules,
  rulesOf,
  ruleInputOf,
} from '@warden/policy-domain';
import { getBundleVersion, listBundleVersions, shadowReport } from '@warden/policy-read-models';
import { rowView, rowViews, ServiceRuntime } from '@warden/platform';
import { Caller } from '@warden/platform/nest';
import { Bundles, BUNDLES, whatIf } from './bundles';

function repositoryOf(bundles: Bundles, tenantId: string): BundleRepositoryState {
  return bundles.directory.state.get(tenantId)?.repository ?? emptyRepository(tenantId);
}

export class HandleBundleCommand {
  constructor(readonly command: BundleCommand) {}
}
export class ListBundles {
  constructor(readonly caller: Caller) {}
}
export class GetBundle {
  constructor(
    readonly caller: Caller,
    readonly version: string,
  ) {}
}
export class DiffBundles {
  constructor(
    readonly caller: Caller,
    readonly from: string,
    readonly to: string,
  ) {}
}
export class DryRunBundle {
  constructor(
    readonly caller: Caller,
    /** A version, or 'active' for the version in effect at `now`. */
    readonly version: string,
    readonly input: Record<string, unknown>,
    readonly now: number,
  ) {}
}
export class GetShadowReport {
  constructor(
    readonly caller: Caller,
    readonly version: string,
  ) {}
}
export class RunWhatIf {
  constructor(
    readonly caller: Caller,
    readonly candidate: { readonly version: string } | { readonly document: BundleDocument },
    readonly fromMs: number,
    readonly toMs: number,
  ) {}
}

@CommandHandler(HandleBundleCommand)
export class HandleBundleCommandHandler implements ICommandHandler<HandleBundleCommand> {
  constructor(@Inject(BUNDLES) private readonly bundles: Bundles) {}
  async execute({ command }: HandleBundleCommand) {
    const { events, state } = await this.bundles.gateway.handle(command.tenantId, command, {
      now: command.now,
      eventId: () => randomUUID(),
    });
    return { events, state };
  }
}

@QueryHandler(ListBundles)
export class ListBundlesHandler implements IQueryHandler<ListBundles> {
  constructor(
    private readonly runtime: ServiceRuntime,
    @Inject(BUNDLES) private readonly bundles: Bundles,
  ) {}
  async execute({ caller }: ListBundles) {
    const tenantId = ownTenant(caller, 'policy.bundles.read');
    await this.bundles.directory.caughtUp();
    const state = repositoryOf(this.bundles, tenantId);
    return {
      tenantId,
      bundleId: state.bundleId,
      activeVersion: activeVersionAt(state, Date.now()) || null,
      shadowVersion: state.shadow || null,
      versions: rowViews(await listBundleVersions(this.runtime.db, tenantId)),
    };
  }
}

@QueryHandler(GetBundle)
export class GetBundleHandler implements IQueryHandler<GetBundle> {
  constructor(private readonly runtime: ServiceRuntime) {}
  async execute({ caller, version }: GetBundle) {
    const tenantId = ownTenant(caller, 'policy.bundles.read');
    const row = await getBundleVersion(this.runtime.db, tenantId, version);
    if (!row) throw notFound('not_found', `no version ${version} of the tenant's bundle`);
    return rowView(row);
  }
}

@QueryHandler(DiffBundles)
export class DiffBundlesHandler implements IQueryHandler<DiffBundles> {
  constructor(@Inject(BUNDLES) private readonly bundles: Bundles) {}
  async execute({ caller, from, to }: DiffBundles) {
    const tenantId = ownTenant(caller, 'policy.bundles.read');
    await this.bundles.directory.caughtUp();
    const versions = repositoryOf(this.bundles, tenantId).versions;
    const a = versions.get(from);
    const b = versions.get(to);
    if (!a) throw notFound('not_found', `no version ${from} of the tenant's bundle`);
    if (!b) throw notFound('not_found', `no version ${to} of the tenant's bundle`);
    return diffBundles({ version: from, rules: rulesOf(a) }, { version: to, rules: rulesOf(b) });
  }
}

@QueryHandler(DryRunBundle)
export class DryRunBundleHandler implements IQueryHandler<DryRunBundle> {
  constructor(@Inject(BUNDLES) private readonly bundles: Bundles) {}
  async execute({ caller, version, input, now }: DryRunBundle) {
    const tenantId = ownTenant(caller, 'policy.bundles.read');
    await this.bundles.directory.caughtUp();
    const entry = this.bundles.directory.state.get(tenantId);
    const resolved = entry && version === 'active' ? activeVersionAt(entry.repository, now) : version;
    const bundle = entry && resolved ? compiledVersion(entry, resolved) : undefined;
    if (!bundle)
      throw notFound(
        'not_found',
        version === 'active' ? 'no version is active' : `no version ${version} of the tenant's bundle`,
      );
    const verdicts = bundle.evaluate(ruleInputOf({ ...input, now }));
    return {
      version: bundle.version,
      digest: bundle.digest,
      verdict: bundleVerdict(verdicts),
      rules: firedRules(verdicts),
    };
  }
}

@QueryHandler(GetShadowReport)
export class GetShadowReportHandler implements IQueryHandler<GetShadowReport> {
  constructor(
    private readonly runtime: ServiceRuntime,
    @Inject(BUNDLES) private readonly bundles: Bundles,
  ) {}
  async execute({ caller, version }: GetShadowReport) {
    const tenantId = ownTenant(caller, 'policy.bundles.read');
    await this.bundles.directory.caughtUp();
    const shadow = version || repositoryOf(this.bundles, tenantId).shadow;
    if (!shadow) throw notFound('not_found', 'no shadow bundle is set; name a version with ?version=');
    return shadowReport(this.runtime.db, tenantId, shadow);
  }
}

@QueryHandler(RunWhatIf)
export class RunWhatIfHandler implements IQueryHandler<RunWhatIf> {
  constructor(@Inject(BUNDLES) private readonly bundles: Bundles) {}
  async execute({ caller, candidate, fromMs, toMs }: RunWhatIf) {
    const tenantId = ownTenant(caller, 'policy.bundles.read');
    if (toMs <= fromMs) throw invalid('invalid_window', 'to must be after from', 'to');
    await this.bundles.directory.caughtUp();
    const directory = this.bundles.directory.state;
    let bundle;
    if ('version' in candidate) {
      const entry = directory.get(tenantId);
      bundle = entry && compiledVersion(entry, candidate.version);
      if (!bundle) throw notFound('not_found', `no version ${candidate.version} of the tenant's bundle`);
    } else {
      const doc = candidate.document;
      try {
        bundle = compileRules({
          bundleId: doc.id,
          tenantId,
          version: doc.version,
          digest: digestOf(doc),
          rules: doc.rules,
        });
      } catch (error) {
        if (!(error instanceof BundleCompileError)) throw error;
        throw invalid('cel_error', error.message, `bundle.rules[${error.errors[0].index}].when`);
      }
    }
    const decisions = await this.bundles.recordedDecisions(tenantId, fromMs, toMs);
    return {
      candidateVersion: bundle.version,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      ...whatIf(decisions, directory, bundle),
    };
  }
}

export const bundleHandlers = [
  HandleBundleCommandHandler,
  ListBundlesHandler,
  GetBundleHandler,
  DiffBundlesHandler,
  DryRunBundleHandler,
  GetShadowReportHandler,
  RunWhatIfHandler,
];
