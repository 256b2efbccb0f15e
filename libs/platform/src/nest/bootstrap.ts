import 'reflect-metadata';
import { DynamicModule, INestApplication, LoggerService, Module, Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from '../observability/logger';
import { ServiceRuntime } from '../runtime/service-runtime';
import { authenticate } from './actor';
import { HealthController, MetricsController } from './platform.controllers';
import { ProblemFilter } from './problem.filter';
import { WardenKafkaTransport } from './transport';

/** Nest's own logs, as JSON lines through the platform logger. */
class NestJsonLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    this.logger.debug(String(message), { context });
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error(String(message), { context, trace });
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn(String(message), { context });
  }
}

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 30_000;

export interface ServiceModuleOptions {
  readonly runtime: ServiceRuntime;
  readonly controllers: Type[];
  readonly providers: Provider[];
  readonly imports?: (Type | DynamicModule)[];
}

@Module({})
export class ServiceModule {
  static with(options: ServiceModuleOptions): DynamicModule {
    return {
      module: ServiceModule,
      imports: options.imports ?? [],
      controllers: [HealthController, MetricsController, ...options.controllers],
      providers: [
        { provide: ServiceRuntime, useValue: options.runtime },
        { provide: Logger, useValue: options.runtime.logger },
        ...options.providers,
      ],
    };
  }
}

export interface HttpOptions {
  readonly host: string;
  /** 0 picks a free port (tests); read it back with `httpPort(app)`. */
  readonly port: number;
  readonly title: string;
  readonly description: string;
  /** Exit the process on SIGTERM/SIGINT after a graceful close (default true; tests turn it off). */
  readonly handleSignals?: boolean;
  /** Also shut down gracefully when standard input ends (WARDEN_STOP_ON_STDIN_END). */
  readonly stopOnStdinEnd?: boolean;
}

export function httpPort(app: INestApplication): number {
  return (app.getHttpServer().address() as { port: number }).port;
}

/**
 * Starts the hybrid app: HTTP on its own port, the Kafka runtime as a custom transport, and
 * graceful shutdown on SIGTERM/SIGINT (stop fetching, finish in-flight work, commit, exit 0).
 */
export async function runService(
  module: DynamicModule,
  runtime: ServiceRuntime,
  http: HttpOptions,
): Promise<INestApplication> {
  const app = await NestFactory.create(module, { logger: new NestJsonLogger(runtime.logger), abortOnError: false });
  app.useGlobalFilters(new ProblemFilter(runtime.logger));
  if (!runtime.authenticator.configured)
    runtime.logger.warn('no admin token issuer configured (WARDEN_AUTH_JWKS*): every admin call is refused');
  app.use(authenticate(runtime.authenticator));
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder().setTitle(http.title).setDescription(http.description).setVersion('1').addBearerAuth().build(),
  );
  // Every admin operation takes the bearer token of ADR 0010 (routes without a caller ignore it).
  document.security = [{ bearer: [] }];
  SwaggerModule.setup('openapi', app, document, { jsonDocumentUrl: 'openapi.json' });
  app.connectMicroservice({ strategy: new WardenKafkaTransport(runtime) }, { inheritAppConfig: true });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    runtime.logger.info('shutting down', { signal });
    // A drain that cannot finish (e.g. a wedged broker connection) must not keep the process.
    setTimeout(() => {
      runtime.logger.error('graceful shutdown timed out; exiting', { afterMs: SHUTDOWN_DEADLINE_MS });
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    try {
      await app.close();
      process.exit(0);
    } catch (error) {
      runtime.logger.error('shutdown failed', { error });
      process.exit(1);
    }
  };
  if (http.handleSignals !== false) {
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  }
  if (http.stopOnStdinEnd) process.stdin.once('end', () => void shutdown('stdin ended')).resume();
  await app.startAllMicroservices();
  await app.listen(http.port, http.host);
  runtime.logger.info('listening', { host: http.host, port: http.port });
  return app;
}
