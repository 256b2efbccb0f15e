import { Controller, Get, Header, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ServiceRuntime } from '../runtime/service-runtime';

@Controller('health')
export class HealthController {
  constructor(private readonly runtime: ServiceRuntime) {}

  /** Liveness: the process works (restart it if not). */
  @Get('live')
  live(@Res() res: Response): void {
    const live = this.runtime.live();
    res.status(live ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE).json({ status: live ? 'up' : 'down' });
  }

  /** Readiness: Kafka and Postgres reachable, every consumer running with its state rebuilt. */
  @Get('ready')
  async ready(@Res() res: Response): Promise<void> {
    const r = await this.runtime.readiness();
    res
      .status(r.ready ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE)
      .json({ status: r.ready ? 'up' : 'down', ...r });
  }
}

@Controller('metrics')
export class MetricsController {
  constructor(private readonly runtime: ServiceRuntime) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metrics(): Promise<string> {
    return this.runtime.metrics.registry.metrics();
  }
}
