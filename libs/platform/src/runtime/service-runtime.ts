import { AdminAuthenticator } from '../auth/admin-auth';
import { AuthorityVerifier } from '../crypto/authority';
import { Message } from '@warden/contracts';
import { DataSource } from 'typeorm';
import { KafkaPort } from '../kafka/port';
import { provisionTopics } from '../kafka/provision';
import { Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { migrate } from '../postgres/data-source';
import { ProjectionDefinition, Row } from '../projection/projection';
import { ProjectionRunner } from '../projection/runner';
import { Processor, ProcessorDefinition, RuntimeDeps } from './processor';
import { Table, TableDefinition, TableReader } from './table';
import { WebhookReactor, WebhookReactorDefinition } from '../webhooks/reactor';

export interface Readiness {
  readonly ready: boolean;
  readonly kafka: 'up' | 'down';
  readonly postgres: 'up' | 'down' | 'unused';
  readonly consumers: Record<string, string>;
}

/**
 * Everything a service runs besides HTTP: Kafka, Postgres, tables, processors and
 * projections, started in dependency order and stopped in reverse. Plain TypeScript; the
 * Nest shell only calls start, stop and readiness.
 */
export class ServiceRuntime {
  private readonly tables: Table<unknown>[] = [];
  private readonly processors: Processor<unknown, unknown, never>[] = [];
  private readonly projections: ProjectionRunner[] = [];
  private readonly reactors: WebhookReactor[] = [];
  private tableReaders: TableReader[] = [];
  private instanceId = `${process.pid}`;
  private started = false;
  private fallbackAuthenticator: AdminAuthenticator | undefined;
  private readonly onStart: (() => Promise<void>)[] = [];
  private dbUp: { at: number; up: boolean } = { at: 0, up: false };

  constructor(
    readonly service: string,
    readonly port: KafkaPort,
    readonly logger: Logger,
    readonly metrics: Metrics,
    private readonly options: {
      readonly prefix: string;
      readonly partitions: number;
      readonly ingressRetentionMs?: number;
      readonly db?: DataSource;
      readonly schema?: string;
      readonly authenticator?: AdminAuthenticator;
      /** Verifies records of authority topics before tables and processors fold them (ADR 0118). */
      readonly authority?: AuthorityVerifier;
      /** Whether tables dead-letter the forged records they refuse (default true; not the HTTP gate). */
      readonly deadLetters?: boolean;
    },
  ) {}

  /** Verifies admin-API callers; without one (a runtime built by hand) every call is refused. */
  get authenticator(): AdminAuthenticator {
    return (this.fallbackAuthenticator ??=
      this.options.authenticator ?? new AdminAuthenticator({ issuer: '', audience: '' }));
  }

  get prefix(): string {
    return this.options.prefix;
  }

  get db(): DataSource {
    if (!this.options.db) throw new Error(`${this.service} has no database`);
    return this.options.db;
  }

  private addTable<S>(table: Table<S>): Table<S> {
    this.tables.push(table as Table<unknown>);
    return table;
  }

  private addProcessor<C, S, E extends Message>(processor: Processor<C, S, E>): Processor<C, S, E> {
    this.processors.push(processor as unknown as Processor<unknown, unknown, never>);
    return processor;
  }

  private addProjection<R extends Row>(projection: ProjectionRunner<R>): ProjectionRunner<R> {
    this.projections.push(projection as unknown as ProjectionRunner);
    return projection;
  }

  /** What processors need from the runtime. */
  deps(): RuntimeDeps {
    return {
      port: this.port,
      prefix: this.options.prefix,
      service: this.service,
      logger: this.logger,
      metrics: this.metrics,
      partitionsConcurrency: this.options.partitions,
      partitions: this.options.partitions,
      authority: this.options.authority,
    };
  }

  /** Adds a processor for a definition. */
  process<C, S, E extends Message>(definition: ProcessorDefinition<C, S, E>): Processor<C, S, E> {
    return this.addProcessor(new Processor(definition, this.deps()));
  }

  /** Adds a projection runner for a definition, writing to this service's schema. */
  project<R extends Row>(definition: ProjectionDefinition<R>): ProjectionRunner<R> {
    return this.addProjection(
      new ProjectionRunner(definition, {
        port: this.port,
        db: this.db,
        schema: this.options.schema ?? this.service,
        prefix: this.options.prefix,
        logger: this.logger,
        metrics: this.metrics,
        authority: this.options.authority,
      }),
    );
  }

  /** Adds a table folded from some topics by every instance (one reader consumes for all of them). */
  table<S>(definition: TableDefinition<S>, instanceId: string): Table<S> {
    this.instanceId = instanceId;
    return this.addTable(
      new Table(definition, this.options.prefix, this.logger, this.options.authority, this.options.deadLetters ?? true),
    );
  }

  /** Adds a reactor that delivers signed webhooks for some events (started after projections). */
  webhooks(definition: WebhookReactorDefinition): WebhookReactor {
    const reactor = new WebhookReactor(definition, this.deps());
    this.reactors.push(reactor);
    return reactor;
  }

  /** Runs `step` at the end of every start, once tables, processors and projections run (e.g. seeding keys). */
  afterStart(step: () => Promise<void>): void {
    this.onStart.push(step);
  }

  projection(name: string): ProjectionRunner {
    const found = this.projections.find((p) => p.name === name);
    if (!found) throw new Error(`no projection ${name}`);
    return found;
  }

  /** Applies the service's migrations (at start, and by `<service> migrate`); returns their names. */
  async migrate(): Promise<string[]> {
    const { db, schema } = this.options;
    if (!db) return [];
    if (!db.isInitialized) await db.initialize();
    const applied = await migrate(db, schema ?? this.service);
    if (applied.length > 0) this.logger.info('migrations applied', { migrations: applied });
    return applied;
  }

  async start(): Promise<void> {
    const { prefix, partitions } = this.options;
    await this.migrate();
    await this.port.connect();
    await provisionTopics(this.port, prefix, partitions, this.options.ingressRetentionMs);
    // One reader per batching class: prompt tables (kill switches, registry) and lagging ones.
    const classes = new Map<string, Table<unknown>[]>();
    for (const t of this.tables) {
      const key = JSON.stringify(t.batching ?? null);
      classes.set(key, [...(classes.get(key) ?? []), t]);
    }
    this.tableReaders = [...classes.values()].map(
      (tables, i) =>
        new TableReader(
          tables,
          this.port,
          `${prefix}${this.service}${i ? `.${i}` : ''}`,
          this.instanceId,
          tables[0].batching,
        ),
    );
    for (const reader of this.tableReaders) await reader.start();
    for (const processor of this.processors) await processor.start();
    for (const projection of this.projections) await projection.start();
    for (const reactor of this.reactors) await reactor.start();
    for (const step of this.onStart) await step();
    this.started = true;
    this.logger.info('runtime started', {
      tables: this.tables.map((t) => t.name),
      processors: this.processors.map((p) => p.name),
      projections: this.projections.map((p) => p.name),
      reactors: this.reactors.map((r) => r.name),
    });
  }

  /** Stop fetching, finish in-flight batches, commit, leave groups, close connections. */
  async stop(): Promise<void> {
    this.started = false;
    await Promise.allSettled(this.reactors.map((r) => r.stop()));
    await Promise.allSettled(this.projections.map((p) => p.stop()));
    await Promise.allSettled(this.processors.map((p) => p.stop()));
    await Promise.allSettled(this.tableReaders.map((r) => r.stop()));
    await this.port.close();
    if (this.options.db?.isInitialized) await this.options.db.destroy();
    this.logger.info('runtime stopped');
  }

  async readiness(): Promise<Readiness> {
    const consumers: Record<string, string> = {};
    for (const t of this.tables) consumers[`table:${t.name}`] = t.ready ? 'running' : 'catching-up';
    for (const p of this.processors) consumers[`processor:${p.name}`] = p.ready ? 'running' : p.status;
    for (const p of this.projections) consumers[`projection:${p.name}`] = p.status;
    for (const r of this.reactors) consumers[`webhooks:${r.name}`] = r.status;
    const kafka = this.port.healthy() ? 'up' : 'down';
    const postgres = this.options.db ? ((await this.postgresUp()) ? 'up' : 'down') : 'unused';
    const ready =
      this.started && kafka === 'up' && postgres !== 'down' && Object.values(consumers).every((s) => s === 'running');
    return { ready, kafka, postgres, consumers };
  }

  /** Liveness: the process is not wedged (a crashed consumer never restarts by itself). */
  live(): boolean {
    return ![...this.processors, ...this.projections, ...this.reactors].some((c) => c.status === 'crashed');
  }

  private async postgresUp(): Promise<boolean> {
    const now = Date.now();
    if (now - this.dbUp.at < 1000) return this.dbUp.up;
    let up = false;
    try {
      await this.db.query('SELECT 1');
      up = true;
    } catch {
      up = false;
    }
    this.dbUp = { at: now, up };
    return up;
  }
}
