import { DynamicModule } from '@nestjs/common';
import { createServiceRuntime, ServiceRuntime } from '@warden/platform';
import { ServiceModule } from '@warden/platform/nest';
import { agentKeysTable } from './agent-keys';
import { GatewayConfig } from './config';
import { GATEWAY_EDGE, GatewayEdge } from './edge';
import { Gateway } from './gateway';
import { gatewayMetrics } from './metrics';
import { AuthzenHttpController } from './http/authzen.http.controller';
import { GateHttpController } from './http/gate.http.controller';
import { ReplyRouter } from './replies';

/**
 * The HTTP gate: no database and no state of its own. It folds the registry's signing keys (to
 * verify agent tokens offline), publishes agents' requests and outcomes, and listens to the reply
 * topics of the agents it serves while their calls wait (ADR 0119).
 */
export function gatewayService(config: GatewayConfig): { runtime: ServiceRuntime; module: DynamicModule } {
  const runtime = createServiceRuntime('gateway', config);
  const keys = runtime.table(agentKeysTable, config.instanceId);
  const replies = new ReplyRouter(runtime.port, {
    prefix: config.topicPrefix,
    instanceId: config.instanceId,
    idleMs: config.listenerIdleMs,
    maxListeners: config.maxListeners,
    logger: runtime.logger,
  });
  const metrics = gatewayMetrics(runtime.metrics, () => replies.listening);
  const gateway = new Gateway(
    runtime.port,
    replies,
    config.topicPrefix,
    { maxDeadlineMs: config.maxDeadlineMs, maxWaitMs: config.maxWaitMs },
    Date.now,
    metrics.observe,
  );
  const edge = new GatewayEdge(gateway, keys, {
    leewaySeconds: config.dpopLeewaySeconds,
    publicUrl: config.publicUrl,
  });
  // Stop listening before the runtime closes the Kafka connection (graceful shutdown).
  const stop = runtime.stop.bind(runtime);
  runtime.stop = async () => {
    await replies.close();
    await stop();
  };
  const module = ServiceModule.with({
    runtime,
    controllers: [GateHttpController, AuthzenHttpController],
    providers: [{ provide: GATEWAY_EDGE, useValue: edge }],
  });
  return { runtime, module };
}
