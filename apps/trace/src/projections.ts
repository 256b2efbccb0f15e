import { conflict, notFound } from '@warden/kernel';
import { ProjectionDefinition, ProjectionRunner, Row, ServiceRuntime } from '@warden/platform';
import { bulkRebuild } from './bulk-rebuild';
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

/** The trace projections of this instance, for the operator API: status, lag and rebuild. */
export class TraceProjections {
  private readonly rebuilding = new Set<string>();

  readonly runners: readonly ProjectionRunner[];

  constructor(
    private readonly runtime: ServiceRuntime,
    private readonly projections: readonly { runner: ProjectionRunner; def: ProjectionDefinition<Row> }[],
    private readonly maxRows: number,
  ) {
    this.runners = projections.map((p) => p.runner);
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

  /** Starts a rebuild (truncate, replay from the beginning, in bulk) and returns at once. */
  rebuild(name: string): void {
    const started = this.rebuildNow(name);
    void started.catch((error) => this.runtime.logger.error('projection rebuild failed', { projection: name, error }));
  }

  /** Rebuilds a projection in bulk and resolves when its runner is running again. */
  rebuildNow(name: string) {
    const found = this.projections.find((p) => p.runner.name === name);
    if (!found) throw notFound('unknown_projection', `no projection ${name}`);
    if (this.rebuilding.has(name)) throw conflict('rebuild_in_progress', `projection ${name} is already being rebuilt`);
    this.rebuilding.add(name);
    return this.bulk(found);
  }

  private async bulk(found: { runner: ProjectionRunner; def: ProjectionDefinition<Row> }) {
    try {
      return await bulkRebuild(this.runtime, found.runner, found.def, { schema: 'trace', maxRows: this.maxRows });
    } finally {
      this.rebuilding.delete(found.runner.name);
    }
  }
}

/** Wires the trace projections into the runtime. */
export function wireTraceProjections(runtime: ServiceRuntime, rebuildMaxRows: number): TraceProjections {
  const defs = [
    requestsProjection,
    runsProjection,
    auditProjection,
    killSwitchesProjection,
    holdsProjection,
  ] as unknown as ProjectionDefinition<Row>[];
  return new TraceProjections(
    runtime,
    defs.map((def) => ({ def, runner: runtime.project(def) })),
    rebuildMaxRows,
  );
}
