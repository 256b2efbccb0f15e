import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError, invalid, tokenTenant } from '@warden/kernel';
import { BundleEvent, parseBundleDocument } from '@warden/policy-domain';
import { Input } from '@warden/platform';
import { Caller, CallerOf } from '@warden/platform/nest';
import {
  DiffBundles,
  DryRunBundle,
  GetBundle,
  GetShadowReport,
  HandleBundleCommand,
  ListBundles,
  RunWhatIf,
} from '../bundles.cqrs';

/** A time as epoch ms or an ISO 8601 string; '' or absent = `fallback`. */
function timeOf(value: unknown, field: string, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || ms < 0)
    throw invalid('invalid_field', `${field} must be epoch ms or an ISO 8601 time`, field);
  return ms;
}

function recorded(events: readonly BundleEvent[]) {
  const e = events[0];
  return e ? { event: e.$typeName.split('.').pop(), tenantId: e.tenantId, bundleId: e.bundleId } : {};
}

@ApiTags('policy bundles')
@Controller('bundles')
export class BundlesHttpController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  private async command(caller: Caller, command: Record<string, unknown> & { type: string }) {
    const { events } = await this.commands.execute(
      new HandleBundleCommand({
        ...command,
        tenantId: tokenTenant(caller),
        by: caller.subject,
        roles: caller.roles,
        now: Date.now(),
      } as never),
    );
    return events as readonly BundleEvent[];
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Publish a bundle version (role admin). Body: the bundle document (id, version, description, rules, tests). ' +
      "Every rule compiles and the bundle's tests run first: a CEL error (400 cel_error, field rules[i].when, " +
      'detail naming the rule, line and column) or a failing test (400 bundle_tests_failed, each case listed) refuses it.',
  })
  async publish(@Body() body: unknown, @CallerOf() caller: Caller) {
    const document = parseBundleDocument(body);
    const events = await this.command(caller, { type: 'PublishBundle', document, source: JSON.stringify(body) });
    const published = events[0];
    return {
      ...recorded(events),
      version: document.version,
      digest: published?.$typeName === 'warden.policy.v1.PolicyBundlePublished' ? published.digest : '',
      rules: document.rules.length,
      tests: document.tests.length,
    };
  }

  @Get()
  @ApiOperation({
    summary: "The caller's tenant's bundle versions, the active and the shadow version (admin, auditor, sre, owner).",
  })
  list(@CallerOf() caller: Caller) {
    return this.queries.execute(new ListBundles(caller));
  }

  @Get('diff')
  @ApiOperation({ summary: 'Rules added, removed and changed between two versions (?from=&to=).' })
  diff(@Query('from') from: string, @Query('to') to: string, @CallerOf() caller: Caller) {
    if (!from) throw invalid('missing_field', 'from is required', 'from');
    if (!to) throw invalid('missing_field', 'to is required', 'to');
    return this.queries.execute(new DiffBundles(caller, from, to));
  }

  @Post('rollback')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Roll back at once to an earlier published version (role admin, reason required). Cancels scheduled activations.',
  })
  async rollback(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const toVersion = input.string('toVersion', { max: 128 });
    const events = await this.command(caller, {
      type: 'RollBackBundle',
      toVersion,
      reason: input.string('reason', { max: 2000 }),
    });
    return { ...recorded(events), toVersion };
  }

  @Post('shadow')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run a published version in shadow mode beside the active one on live traffic (role admin).',
  })
  async setShadow(@Body() body: unknown, @CallerOf() caller: Caller) {
    const version = Input.of(body).string('version', { max: 128 });
    return { ...recorded(await this.command(caller, { type: 'SetShadowBundle', version })), version };
  }

  @Delete('shadow')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stop shadow mode (role admin).' })
  async clearShadow(@CallerOf() caller: Caller) {
    return recorded(await this.command(caller, { type: 'ClearShadowBundle' }));
  }

  @Get('shadow/report')
  @ApiOperation({
    summary:
      'Shadow report: decisions compared, agreements and flips against the active bundle, by transition and by rule ' +
      '(?version=, default the current shadow version).',
  })
  shadowReport(@Query('version') version: string | undefined, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetShadowReport(caller, version ?? ''));
  }

  @Post('what-if')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'What-if: evaluate a candidate (`version` of a published one, or an unpublished `bundle` document) against the ' +
      'gate decisions recorded on Kafka with a decision time in [from, to), each beside the bundle active then; reports every flip with counts by rule.',
  })
  whatIf(@Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const raw = body as Record<string, unknown>;
    const version = input.string('version', { optional: true, max: 128 });
    if (!version && !input.has('bundle')) throw invalid('missing_field', 'version or bundle is required', 'version');
    const candidate = version ? { version } : { document: parseBundleDocumentAt(raw.bundle) };
    const toMs = timeOf(raw.to, 'to', Date.now());
    const fromMs = timeOf(raw.from, 'from', NaN);
    if (Number.isNaN(fromMs)) throw invalid('missing_field', 'from is required', 'from');
    return this.queries.execute(new RunWhatIf(caller, candidate, fromMs, toMs));
  }

  @Get(':version')
  @ApiOperation({ summary: 'One version: rules, tests, source, digest and activations.' })
  get(@Param('version') version: string, @CallerOf() caller: Caller) {
    return this.queries.execute(new GetBundle(caller, version));
  }

  @Post(':version/activate')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Activate a version (role admin) at `effectiveAt` (epoch ms or ISO 8601; default now) on the decision clock.',
  })
  async activate(@Param('version') version: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const raw = (body ?? {}) as Record<string, unknown>;
    const effectiveAtMs = timeOf(raw.effectiveAt ?? raw.effectiveAtMs, 'effectiveAt', 0);
    return { ...recorded(await this.command(caller, { type: 'ActivateBundle', version, effectiveAtMs })), version };
  }

  @Post(':version/evaluate')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Dry run: evaluate a RuleInput (request, agent, contract, action, run, agentHistory; `now` optional) against a version or 'active'. Records nothing.",
  })
  evaluate(@Param('version') version: string, @Body() body: unknown, @CallerOf() caller: Caller) {
    const input = Input.of(body);
    const raw = body as Record<string, unknown>;
    input.object('request');
    const now = timeOf(raw.now, 'now', Date.now());
    return this.queries.execute(new DryRunBundle(caller, version, raw, now));
  }
}

function parseBundleDocumentAt(value: unknown) {
  try {
    return parseBundleDocument(value);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    throw new DomainError(error.kind, error.code, error.message, error.field && `bundle.${error.field}`);
  }
}
