import { DEFAULT_MAX_DEADLINE_MS } from '@warden/contracts';
import { env, PlatformConfig, platformSchema, readConfig } from '@warden/platform';

export interface GatewayConfig extends PlatformConfig {
  readonly httpHost: string;
  readonly httpPort: number;
  /** The longest an HTTP call waits for its decision, whatever the request's deadline (then: deny). */
  readonly maxWaitMs: number;
  /** How far a request's deadline may lie after its requestedAtMs (the gate's GATE_MAX_DEADLINE_MS). */
  readonly maxDeadlineMs: number;
  /** How far a DPoP proof's `iat` may be from the gateway's clock, in seconds. */
  readonly dpopLeewaySeconds: number;
  /**
   * The URL clients call the gateway at (e.g. `https://gate.example.com`), compared with a DPoP
   * proof's `htu`; unset, only the path of `htu` is compared (a proxy may rewrite the host).
   */
  readonly publicUrl: string;
  /** Reply-topic listeners idle this long are closed (one per agent the gateway serves). */
  readonly listenerIdleMs: number;
  /** At most this many agents' reply topics are listened to at once; the least recently used is closed. */
  readonly maxListeners: number;
}

export const readGatewayConfig = (source = process.env): GatewayConfig => {
  const config = readConfig<GatewayConfig>(
    {
      ...platformSchema,
      httpHost: env.string('HTTP_HOST', '127.0.0.1'),
      httpPort: env.port('GATEWAY_HTTP_PORT', 7107),
      maxWaitMs: env.int('GATEWAY_MAX_WAIT_MS', 30_000, { min: 100, max: DEFAULT_MAX_DEADLINE_MS }),
      maxDeadlineMs: env.int('GATE_MAX_DEADLINE_MS', DEFAULT_MAX_DEADLINE_MS, { min: 1000, max: 86_400_000 }),
      dpopLeewaySeconds: env.int('GATEWAY_DPOP_LEEWAY_S', 60, { min: 1, max: 600 }),
      publicUrl: env.pattern('GATEWAY_PUBLIC_URL', /^(https?:\/\/[^\s/]+)?$/, 'an http(s) origin, no path', ''),
      listenerIdleMs: env.int('GATEWAY_LISTENER_IDLE_MS', 600_000, { min: 1000 }),
      maxListeners: env.int('GATEWAY_MAX_LISTENERS', 500, { min: 1, max: 100_000 }),
    },
    source,
  );
  return config;
};
