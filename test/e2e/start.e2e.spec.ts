import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { eventually, freePorts } from '@warden/platform/testing';
import { SERVICES } from '@warden/local-stack';

/**
 * `npm start` as a user runs it (issue 18, item 9): the real start script with its output piped
 * through `tee`, stopped by SIGINT to the whole foreground process group — which kills `tee`, so
 * nothing start prints after that can be read. Every service must still log its shutdown and exit
 * 0, the broker and the Postgres that start brought up must be stopped, start must exit 0, and a
 * second start on the same data must run the demo again (its signing keys are opened with the same
 * key-encryption key).
 */
jest.setTimeout(420_000);

const ROOT = resolve(__dirname, '..', '..');
const HOME = join(ROOT, '.warden', 'start-e2e');
const KAFKA = join(ROOT, 'deploy', 'local', 'kafka.sh');
const PORT_VARIABLES = [
  'REGISTRY_HTTP_PORT',
  'KILLSWITCH_HTTP_PORT',
  'BUDGET_HTTP_PORT',
  'POLICY_HTTP_PORT',
  'APPROVAL_HTTP_PORT',
  'TRACE_HTTP_PORT',
  'GATEWAY_HTTP_PORT',
];
/** What `npm start` runs: the six services and the HTTP gate. */
const STARTED = [...SERVICES, 'gateway'];
/** The pipeline a terminal would run; bash survives the SIGINT (a trap) to record both exit statuses. */
const PIPELINE = `trap ':' INT; node dist/deploy/start.js 2>&1 | tee "$TEE_FILE"; echo "\${PIPESTATUS[0]} \${PIPESTATUS[1]}" > "$STATUS_FILE"`;

describe('npm start, stopped with Ctrl-C while piped through tee, twice in a row', () => {
  let env: NodeJS.ProcessEnv;
  let ports: { kafka: number; postgres: number; http: number[] };
  let running: ChildProcess | undefined;

  const kafkaSh = (command: string) => {
    try {
      return execFileSync(KAFKA, [command], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      return (error as { stdout?: string }).stdout ?? '';
    }
  };
  const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
  const readFrom = (file: string, offset: number) => readFileSync(file).subarray(offset).toString('utf8');
  const listening = (port: number) =>
    new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });

  beforeAll(async () => {
    const [kafka, controller, postgres, ...http] = await freePorts(3 + STARTED.length);
    ports = { kafka, postgres, http };
    const { DATABASE_URL: _db, KAFKA_BROKERS: _brokers, ...inherited } = process.env;
    env = {
      ...inherited,
      WARDEN_HOME: HOME,
      KAFKA_PORT: String(kafka),
      KAFKA_CONTROLLER_PORT: String(controller),
      WARDEN_EMBEDDED_PG: '1',
      WARDEN_EMBEDDED_PG_PORT: String(postgres),
      ...Object.fromEntries(PORT_VARIABLES.map((name, i) => [name, String(http[i])])),
    };
    // Leftovers of an earlier, interrupted run; the Kafka jars are kept.
    kafkaSh('reset');
    rmSync(join(HOME, 'postgres'), { recursive: true, force: true });
    rmSync(join(HOME, 'logs'), { recursive: true, force: true });
    rmSync(join(HOME, 'run'), { recursive: true, force: true });
  });

  afterAll(() => {
    if (running?.exitCode === null) process.kill(-running.pid!, 'SIGKILL');
    kafkaSh('reset');
  });

  async function startThenCtrlC(run: number) {
    const tee = join(HOME, 'run', `tee-${run}.txt`);
    const status = join(HOME, 'run', `status-${run}.txt`);
    mkdirSync(join(HOME, 'run'), { recursive: true });
    const logs = join(HOME, 'logs');
    const offsets = Object.fromEntries(
      [...STARTED, 'start'].map((name) => [name, size(join(logs, `${name}.log`))]),
    ) as Record<string, number>;

    // A process group of its own, as a terminal gives a foreground job.
    running = spawn('bash', ['-c', PIPELINE], {
      cwd: ROOT,
      env: { ...env, TEE_FILE: tee, STATUS_FILE: status },
      stdio: 'ignore',
      detached: true,
    });
    await eventually(
      () => {
        const out = existsSync(tee) ? readFileSync(tee, 'utf8') : '';
        if (/demo failed|failed to start/.test(out)) throw new Error(`start failed:\n${out}`);
        return (
          /tickets\.read .*ALLOW/.test(out) &&
          // The level-2 agent's medium-risk draft waits for approval (ADR 0013); the demo's approver approves it.
          /PENDING_APPROVAL.* autonomy level 2 \(act within low risk\): a medium-risk tool call needs approval/.test(
            out,
          ) &&
          /tickets\.draft .*ALLOW.*approved by demo-approver/.test(out) &&
          /released kill switch/.test(out)
        );
      },
      240_000,
      `run ${run}: the demo to be allowed, to have its draft approved, and to release its kill switch`,
    );

    process.kill(-running.pid!, 'SIGINT');
    const [startCode, teeCode] = await eventually(
      () => existsSync(status) && readFileSync(status, 'utf8').trim().split(' ').map(Number),
      120_000,
      `run ${run}: start to exit`,
    );
    const said = readFrom(join(logs, 'start.log'), offsets.start);
    expect({ run, teeCode, startCode, said }).toMatchObject({ run, teeCode: 130, startCode: 0 });
    expect(said).toContain(`services stopped: ${STARTED.map((s) => `${s}=0`).join(' ')}`);
    expect(said).toMatch(/postgres: stopped\n[^]*kafka: stopped \(pid \d+\)\n.*bye\n$/);
    // The reader went away at the SIGINT: the end of the shutdown is only in start.log.
    expect(readFileSync(tee, 'utf8')).not.toContain('bye');

    for (const service of STARTED) {
      const messages = readFrom(join(logs, `${service}.log`), offsets[service])
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect({ service, messages }).toEqual({
        service,
        messages: expect.arrayContaining(['listening', 'shutting down', 'runtime stopped']),
      });
    }
    expect(kafkaSh('status')).toContain('not running');
    for (const port of [ports.kafka, ports.postgres, ...ports.http]) expect(await listening(port)).toBe(false);
  }

  it('stops everything in order and exits 0, then starts again and the demo succeeds a second time', async () => {
    await startThenCtrlC(1);
    await startThenCtrlC(2);
  });
});
