import { Logger, ServiceRuntime } from '@warden/platform';
import { Purged, purgeRuns } from '@warden/trace-read-models';

/**
 * Retention (docs/adr/0063): every `intervalMs`, purges from the projections the runs last
 * active more than `days` ago, except held runs (a legal or incident hold, or a kill switch
 * that covered the run). Kafka keeps every event; a rebuild brings purged runs back until
 * the next pass.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<Purged> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly runtime: ServiceRuntime,
    readonly days: number,
    private readonly intervalMs: number,
  ) {
    this.log = runtime.logger.child({ job: 'retention' });
  }

  start(): void {
    if (this.days <= 0) return;
    this.timer = setInterval(() => {
      void this.run(Date.now()).catch((error) => this.log.error('retention pass failed', { error }));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass now: the cutoff is `now` minus the retention (or `days` when given). */
  run(now: number, days = this.days): Promise<Purged & { readonly cutoff: string }> {
    const cutoff = new Date(now - days * 86_400_000);
    const pass = (this.running ?? Promise.resolve({ runs: 0, requests: 0 }))
      .catch(() => undefined)
      .then(() => purgeRuns(this.runtime.db, cutoff));
    this.running = pass;
    return pass.then((purged) => {
      if (purged.runs > 0) this.log.info('retention purged runs', { ...purged, cutoff: cutoff.toISOString() });
      return { ...purged, cutoff: cutoff.toISOString() };
    });
  }
}
