import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AuditForwarder } from './audit/forwarder';
import { GenAiSpanExporter } from './otel/gen-ai-exporter';
import { RetentionJob } from './retention';

/** What trace runs next to the platform runtime; started once the runtime is, stopped before it. */
export class TraceWorkers {
  constructor(
    readonly forwarder: AuditForwarder,
    readonly spans: GenAiSpanExporter | undefined,
    readonly retention: RetentionJob,
  ) {}

  async start(): Promise<void> {
    await this.forwarder.start();
    await this.spans?.start();
    this.retention.start();
  }

  async stop(): Promise<void> {
    await this.retention.stop();
    await this.spans?.stop();
    await this.forwarder.stop();
  }
}

/** Ties the workers to the Nest lifecycle: after microservices (the runtime) start, before they close. */
@Injectable()
export class TraceWorkersLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(@Inject(TraceWorkers) private readonly workers: TraceWorkers) {}

  onApplicationBootstrap(): Promise<void> {
    return this.workers.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.workers.stop();
  }
}
