import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { decisionsProjection } from '@warden/policy-read-models';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { PolicyConfig } from './config';
import { GetDecisionHandler } from './decisions.cqrs';
import { bundleDirectoryTable, wireGate } from './gate.processor';
import { DecisionsHttpController } from './http/decisions.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { Bundles1763800000000 } from './migrations/1763800000000-bundles';
import { BUNDLES, wireBundles } from './bundles';
import { bundleHandlers } from './bundles.cqrs';
import { BundlesHttpController } from './http/bundles.http.controller';

/** The policy service: its runtime (gate processor, tables, projection) and its Nest module. */
export function policyService(config: PolicyConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('policy', config, {
    schema: 'policy',
    migrations: [Init1763700000000, Bundles1763800000000],
  });
  const directory = bundleDirectoryTable(runtime, config.instanceId);
  wireGate(runtime, config, directory);
  runtime.project(decisionsProjection);
  const bundles = wireBundles(runtime, config.instanceId, directory);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [DecisionsHttpController, BundlesHttpController],
    providers: [GetDecisionHandler, { provide: BUNDLES, useValue: bundles }, ...bundleHandlers],
  });
  return { runtime, module };
}
