import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { authorityJwks, DEV_KEY_ENCRYPTION_KEY, devAuthEnv, parseKek } from '@warden/platform';

/** The six services, in start order (the order does not matter for correctness: they only share Kafka). */
export const SERVICES = ['registry', 'killswitch', 'budget', 'policy', 'approval', 'trace'] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * Services the stack starts only when asked (`StackOptions.optional`): the HTTP gate is not one of
 * the six that decide (ADR 0119); `npm start` runs it, the e2e suites that need it ask for it.
 */
export const OPTIONAL_SERVICES = ['gateway'] as const;
export type OptionalService = (typeof OPTIONAL_SERVICES)[number];
type AnyService = ServiceName | OptionalService;

const PORT_VARIABLE: Record<AnyService, string> = {
  registry: 'REGISTRY_HTTP_PORT',
  policy: 'POLICY_HTTP_PORT',
  budget: 'BUDGET_HTTP_PORT',
  approval: 'APPROVAL_HTTP_PORT',
  trace: 'TRACE_HTTP_PORT',
  killswitch: 'KILLSWITCH_HTTP_PORT',
  gateway: 'GATEWAY_HTTP_PORT',
};
export const DEFAULT_PORTS: Record<AnyService, number> = {
  registry: 7101,
  policy: 7102,
  budget: 7103,
  approval: 7104,
  trace: 7105,
  killswitch: 7106,
  gateway: 7107,
};

export interface StackOptions {
  readonly brokers: string;
  readonly databaseUrl: string;
  readonly topicPrefix: string;
  readonly ports?: Partial<Record<AnyService, number>>;
  /** Optional services to start too, after the six (e.g. `['gateway']`). */
  readonly optional?: readonly OptionalService[];
  /** Where each service's JSON log goes (`<dir>/<service>.log`). */
  readonly logDir: string;
  readonly env?: Record<string, string>;
  /** Variables for one service only, over `env` (e.g. its own Kafka principal). */
  readonly serviceEnv?: Partial<Record<AnyService, Record<string, string>>>;
  readonly readyTimeoutMs?: number;
}

export interface Stack {
  /** Every started service's URL: the six, and the optional ones asked for. */
  readonly urls: Record<ServiceName, string> & Partial<Record<OptionalService, string>>;
  readonly processes: Record<ServiceName, ChildProcess> & Partial<Record<OptionalService, ChildProcess>>;
  /** The services started, in start order. */
  readonly services: readonly AnyService[];
  /** SIGTERM every service and wait; resolves with each exit code (null = killed by a signal). */
  stop(): Promise<Record<ServiceName, number | null> & Partial<Record<OptionalService, number | null>>>;
  /** SIGTERM one service, wait for its exit, start it again and wait until it is ready. */
  restart(service: AnyService): Promise<void>;
}

/** The repository root, whether this runs from deploy/local (tests) or dist/deploy/local (built). */
const ROOT = findRoot(__dirname);

function findRoot(from: string): string {
  for (let dir = from; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
  }
  throw new Error(`no nx.json above ${from}`);
}

/** The HTTP ports the services' own variables (REGISTRY_HTTP_PORT, ...) ask for, where set. */
export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Record<AnyService, number>> {
  const ports: Partial<Record<AnyService, number>> = {};
  for (const service of [...SERVICES, ...OPTIONAL_SERVICES]) {
    const text = env[PORT_VARIABLE[service]];
    if (text === undefined || text === '') continue;
    const port = Number(text);
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      throw new Error(`${PORT_VARIABLE[service]} must be a TCP port, got "${text}"`);
    ports[service] = port;
  }
  return ports;
}

/**
 * Starts every service as its own process from the compiled build (dist/) and waits until all are ready.
 * Each service runs in a process group of its own, so a terminal's Ctrl-C reaches only the launcher,
 * which stops them in order; each writes its log straight to its file, so the log does not depend on
 * the launcher's output; and each holds a pipe from the launcher as its standard input and stops when
 * that ends (WARDEN_STOP_ON_STDIN_END), so no service outlives a launcher that was killed.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  mkdirSync(options.logDir, { recursive: true });
  const services: AnyService[] = [...SERVICES, ...OPTIONAL_SERVICES.filter((s) => options.optional?.includes(s))];
  const urls = {} as Record<AnyService, string>;
  const processes = {} as Record<AnyService, ChildProcess>;
  const exits = {} as Record<AnyService, Promise<number | null>>;
  const launch = (service: AnyService) => {
    const port = options.ports?.[service] ?? DEFAULT_PORTS[service];
    urls[service] = `http://127.0.0.1:${port}`;
    const log = openSync(join(options.logDir, `${service}.log`), 'a');
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', service, 'src', 'main.js')], {
      cwd: ROOT,
      env: {
        // Local defaults (ADR 0010): trust the development token issuer, seal keys with the dev KEK.
        ...devAuthEnv(),
        WARDEN_KEY_ENCRYPTION_KEY: DEV_KEY_ENCRYPTION_KEY,
        ...process.env,
        ...options.env,
        ...(service === 'gateway' ? publicKeysOnly({ ...process.env, ...options.env }) : {}),
        ...options.serviceEnv?.[service],
        KAFKA_BROKERS: options.brokers,
        DATABASE_URL: options.databaseUrl,
        WARDEN_TOPIC_PREFIX: options.topicPrefix,
        WARDEN_INSTANCE_ID: `${service}-1`,
        WARDEN_STOP_ON_STDIN_END: 'true',
        [PORT_VARIABLE[service]]: String(port),
      },
      stdio: ['pipe', log, log],
      detached: true,
    });
    closeSync(log);
    processes[service] = child;
    exits[service] = new Promise((done) => child.once('exit', (code) => done(code)));
  };
  for (const service of services) launch(service);
  const restart = async (service: AnyService) => {
    if (!processes[service]) throw new Error(`${service} was not started`);
    processes[service].kill('SIGTERM');
    await exits[service];
    launch(service);
    await waitReady(service, urls[service], exits[service], options.readyTimeoutMs ?? 90_000);
  };
  const stop = async () => {
    for (const service of services) processes[service].kill('SIGTERM');
    const codes = {} as Record<AnyService, number | null>;
    for (const service of services) codes[service] = await exits[service];
    return codes;
  };
  try {
    await Promise.all(services.map((s) => waitReady(s, urls[s], exits[s], options.readyTimeoutMs ?? 90_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls, processes, services, stop, restart };
}

async function waitReady(
  service: AnyService,
  url: string,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<void> {
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (gone !== undefined) throw new Error(`${service} exited with code ${gone} before it was ready`);
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) return;
      last = await res.text();
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${service} not ready after ${timeoutMs} ms: ${last}`);
}

export * from './tool-contracts';

/**
 * The HTTP gate verifies the registry's events but signs nothing, so it gets the services'
 * authority public keys instead of the KEK (docs/adr/0118): the edge holds no secret that opens
 * the sealed token keys.
 */
function publicKeysOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const keks = [
    env.WARDEN_KEY_ENCRYPTION_KEY || DEV_KEY_ENCRYPTION_KEY,
    ...(env.WARDEN_PREVIOUS_KEY_ENCRYPTION_KEYS ?? '').split(','),
  ]
    .map((k) => k.trim())
    .filter(Boolean);
  return {
    WARDEN_KEY_ENCRYPTION_KEY: '',
    WARDEN_PREVIOUS_KEY_ENCRYPTION_KEYS: '',
    WARDEN_AUTHORITY_PUBLIC_KEYS: JSON.stringify({ keys: authorityJwks(keks.map(parseKek)) }),
  };
}
