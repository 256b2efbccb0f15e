import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { TraceConfig } from './config';
import { ProjectionsHttpController } from './http/projections.http.controller';
import { RequestsHttpController } from './http/requests.http.controller';
import { RunsHttpController } from './http/runs.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { TraceProjections, wireTraceProjections } from './projections';
import { traceHandlers } from './trace.cqrs';

/** The trace service: its runtime (two projections) and its Nest module, ready for runService. */
export function traceService(config: TraceConfig): {
  runtime: ServiceRuntime;
  module: DynamicModule;
  projections: TraceProjections;
} {
  const runtime = createServiceRuntime('trace', config, { schema: 'trace', migrations: [Init1763700000000] });
  const projections = wireTraceProjections(runtime);
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [RequestsHttpController, RunsHttpController, ProjectionsHttpController],
    providers: [{ provide: TraceProjections, useValue: projections }, ...traceHandlers],
  });
  return { runtime, module, projections };
}
