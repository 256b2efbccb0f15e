import { DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { trace, Tracer } from '@opentelemetry/api';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { wireAudit } from './audit/audit';
import { otelExportEnabled, TraceConfig } from './config';
import { HOLDS, wireHolds } from './holds';
import { AuditHttpController } from './http/audit.http.controller';
import { HoldsHttpController } from './http/holds.http.controller';
import { ProjectionsHttpController } from './http/projections.http.controller';
import { RequestsHttpController } from './http/requests.http.controller';
import { RunsHttpController } from './http/runs.http.controller';
import { SummariesHttpController } from './http/summaries.http.controller';
import { Init1763700000000 } from './migrations/1763700000000-init';
import { TraceFabric1763800000000 } from './migrations/1763800000000-trace-fabric';
import { KillSwitchEffects1763900000000 } from './migrations/1763900000000-kill-switch-effects';
import { GenAiSpanExporter } from './otel/gen-ai-exporter';
import { TraceProjections, wireTraceProjections } from './projections';
import { ReplayService } from './replay/replay.service';
import { RetentionJob } from './retention';
import { traceHandlers } from './trace.cqrs';
import { TraceWorkers, TraceWorkersLifecycle } from './workers';

export interface TraceOptions {
  /** Where GenAI spans go; default: the global tracer (the OTel SDK configured by OTEL_* variables). */
  readonly tracer?: Tracer;
}

/** The trace service: its runtime (projections, the audit chain, holds) and its Nest module, ready for runService. */
export function traceService(
  config: TraceConfig,
  options: TraceOptions = {},
): {
  runtime: ServiceRuntime;
  module: DynamicModule;
  projections: TraceProjections;
  workers: TraceWorkers;
} {
  const runtime = createServiceRuntime('trace', config, {
    schema: 'trace',
    migrations: [Init1763700000000, TraceFabric1763800000000, KillSwitchEffects1763900000000],
  });
  const projections = wireTraceProjections(runtime, config.rebuildMaxRows);
  const { forwarder } = wireAudit(runtime, config.partitions);
  const holds = wireHolds(runtime, config.instanceId);
  const spans =
    options.tracer || otelExportEnabled(config)
      ? new GenAiSpanExporter(runtime, options.tracer ?? trace.getTracer('warden-trace'), {
          captureContent: config.captureContent,
          partitions: config.partitions,
          maxOpen: 100_000,
          requestWaitMs: 5_000,
          outcomeWaitMs: 10 * 60_000,
        })
      : undefined;
  const workers = new TraceWorkers(
    forwarder,
    spans,
    new RetentionJob(runtime, config.retentionDays, config.retentionIntervalMs),
  );
  const module = ServiceModule.with({
    runtime,
    imports: [CqrsModule.forRoot()],
    controllers: [
      RequestsHttpController,
      RunsHttpController,
      SummariesHttpController,
      AuditHttpController,
      HoldsHttpController,
      ProjectionsHttpController,
    ],
    providers: [
      { provide: TraceProjections, useValue: projections },
      { provide: TraceWorkers, useValue: workers },
      { provide: ReplayService, useValue: new ReplayService(runtime) },
      { provide: HOLDS, useValue: holds },
      TraceWorkersLifecycle,
      ...traceHandlers,
    ],
  });
  return { runtime, module, projections, workers };
}
