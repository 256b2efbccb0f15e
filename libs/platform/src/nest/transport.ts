import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { ServiceRuntime } from '../runtime/service-runtime';

/**
 * The Kafka side of the hybrid app, as a Nest custom transport: Nest owns the lifecycle, the
 * platform runtime owns consuming, state and publishing.
 */
export class WardenKafkaTransport extends Server implements CustomTransportStrategy {
  constructor(private readonly runtime: ServiceRuntime) {
    super();
  }

  listen(callback: (error?: unknown) => void): void {
    this.runtime.start().then(() => callback(), callback);
  }

  async close(): Promise<void> {
    await this.runtime.stop();
  }

  on(): void {
    throw new Error('WardenKafkaTransport has no event listeners: consumers are platform processors');
  }

  unwrap<T>(): T {
    return this.runtime as T;
  }
}
