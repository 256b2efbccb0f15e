import { conflict, notFound } from '@warden/kernel';
import { ConsumerStatus, Logger, ProjectionRunner, ServiceRuntime } from '@warden/platform';
import {
  auditProjection,
  holdsProjection,
  killSwitchesProjection,
  requestsProjection,
  runsProjection,
} from '@warden/trace-read-models';

export interface ProjectionState {
  readonly name: string;
  readonly status: string;
  /** Events on the input topics not yet applied. */
  readonly lag: number;
}

/** A consumer of trace besides the projections (the audit forwarder, the span exporter). */
export interface Worker {
  readonly name: string;
  readonly status: ConsumerStatus;
}

/** The trace projections of this instance, for the operator API: status, lag and rebuild. */
export class TraceProjections {
  private readonly rebuilding = new Set<string>();
  private readonly workers: Worker[] = [];

  constructor(
    readonly runners: readonly ProjectionRunner[],
    private readonly logger: Logger,
  ) {}

  addWorker(worker: Worker): void {
    this.workers.push(worker);
  }

  async states(): Promise<ProjectionState[]> {
    return Promise.all(
      this.runners.map(async (r) => ({
        name: r.name,
        status: this.rebuilding.has(r.name) ? 'rebuilding' : r.status,
        lag: await r.lag(),
      })),
    );
  }

  consumers(): { name: string; status: ConsumerStatus }[] {
    return this.workers.map((w) => ({ name: w.name, status: w.status }));
  }

  /** Starts a rebuild (truncate, replay from the beginning) and returns at once. */
  rebuild(name: string): void {
    const runner = this.runners.find((r) => r.name === name);
    if (!runner) throw notFound('unknown_projection', `no projection ${name}`);
    if (this.rebuilding.has(name)) throw conflict('rebuild_in_progress', `projection ${name} is already being rebuilt`);
    this.rebuilding.add(name);
    void runner
      .rebuild()
      .catch((error) => this.logger.error('projection rebuild failed', { projection: name, error }))
      .finally(() => this.rebuilding.delete(name));
  }
}

/** Wires the trace projections into the runtime. */
export function wireTraceProjections(runtime: ServiceRuntime): TraceProjections {
  return new TraceProjections(
    [
      runtime.project(requestsProjection),
      runtime.project(runsProjection),
      runtime.project(auditProjection),
      runtime.project(killSwitchesProjection),
      runtime.project(holdsProjection),
    ],
    runtime.logger,
  );
}
