import { Gauge, Histogram } from 'prom-client';
import { Metrics } from '@warden/platform';

/** The gateway's own metrics, beside the platform's (Kafka clients, tables). */
export function gatewayMetrics(metrics: Metrics, listeners: () => number) {
  const seconds = new Histogram({
    name: 'warden_gateway_gate_seconds',
    help: 'From a gate call being published to its answer, by verdict (timed_out: failed closed)',
    labelNames: ['verdict'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [metrics.registry],
  });
  new Gauge({
    name: 'warden_gateway_reply_listeners',
    help: 'Agents whose reply topic the gateway listens to',
    registers: [metrics.registry],
    collect() {
      this.set(listeners());
    },
  });
  return {
    observe(verdict: string, timedOut: boolean, ms: number) {
      seconds.observe({ verdict: timedOut ? 'timed_out' : verdict }, ms / 1000);
    },
  };
}
