import { generateKeyPairSync, JsonWebKey } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, kafkaBrokers } from '@warden/platform/testing';
import { publishToolContracts } from '@warden/local-stack';
import { call, Identity, registerActiveAgent } from './http';
import { pythonVenv, pytestSummary, ROOT, runPython, SDK_PYTHON } from './python';
import { startTestStack, TestStack } from './stack';

/**
 * The Python SDK (libs/sdk-python) against the six services as processes on the test broker, with
 * agent tokens required: this suite creates the SDK's virtual environment (setup-venv.sh), starts
 * a stack, registers an active agent with a pinned tool contract, a client secret and a public-key
 * credential over the registry's HTTP API, then runs the SDK's pytest integration tests
 * (tests/integration) with the stack's addresses in the environment, approving the approval tasks
 * they open while they run, and checks over trace's HTTP API that the outcomes they reported
 * were recorded. It fails when pytest fails, with pytest's output. It also runs the README's example.
 */
jest.setTimeout(420_000);

const WORK = join(ROOT, '.warden', 'python-e2e');
const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
const approvers: Identity[] = [
  { subject: 'ann', roles: ['approver'], tenant: 'acme' },
  { subject: 'bob', roles: ['approver'], tenant: 'acme' },
];
const AGENT = 'py-bot';

describe('the Python SDK against the real stack', () => {
  let running: TestStack;
  let python: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    rmSync(WORK, { recursive: true, force: true });
    mkdirSync(WORK, { recursive: true });
    const [venv, stack] = await Promise.all([pythonVenv(), startTestStack('python-sdk')]);
    python = venv;
    running = stack;
    const registry = stack.stack.urls.registry;
    const pins = await publishToolContracts(registry, admin, {
      tickets: {
        description: 'the ticket system',
        ownerTeam: 'support',
        actions: [
          ['read', 'low', false],
          ['write', 'low', false],
          ['refund', 'medium', true],
        ],
      },
    });
    // Granted read and refund (which needs an approval), not write.
    await registerActiveAgent(registry, admin, AGENT, [
      { tool: 'tickets', actions: ['read', 'refund'], ...pins.tickets },
    ]);
    const secret = await call(registry, 'POST', `/agents/${AGENT}/credentials`, admin, {
      kind: 'client_secret',
      reason: 'python sdk e2e',
    });
    expect(secret.status).toBe(201);
    const pair = generateKeyPairSync('ed25519');
    const privateJwk = pair.privateKey.export({ format: 'jwk' }) as JsonWebKey;
    const publicKey = await call(registry, 'POST', `/agents/${AGENT}/credentials`, admin, {
      kind: 'public_key',
      publicJwk: { kty: 'OKP', crv: 'Ed25519', x: privateJwk.x },
      reason: 'python sdk e2e',
    });
    expect(publicKey.status).toBe(201);
    env = {
      WARDEN_BROKERS: kafkaBrokers().join(','),
      WARDEN_TOPIC_PREFIX: stack.prefix,
      WARDEN_REGISTRY_URL: registry,
      WARDEN_TENANT: 'acme',
      WARDEN_AGENT_ID: AGENT,
      WARDEN_CLIENT_SECRET: secret.body.clientSecret as string,
      WARDEN_AGENT_KEY: JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, d: privateJwk.d }),
      WARDEN_AGENT_CREDENTIAL_ID: publicKey.body.credentialId as string,
      WARDEN_REPORT: join(WORK, 'report.json'),
    };
  });

  afterAll(async () => {
    await running?.stop();
  });

  /** Approves every open task of the agent, as two approvers, until `until` resolves. */
  async function approveWhile(until: Promise<unknown>): Promise<string[]> {
    const approved: string[] = [];
    let done = false;
    void until.finally(() => (done = true));
    while (!done) {
      const open = await call<Record<string, unknown>[]>(
        running.stack.urls.approval,
        'GET',
        '/tasks?status=open',
        approvers[0],
      );
      for (const task of (Array.isArray(open.body) ? open.body : []).filter((t) => t.agentId === AGENT)) {
        for (const who of approvers) {
          const r = await call(running.stack.urls.approval, 'POST', `/tasks/${String(task.id)}/approve`, who, {
            argumentsDigest: task.argumentsDigest,
            comment: 'python sdk e2e',
          });
          if (r.status === 200 && r.body.status === 'granted') break;
        }
        approved.push(String(task.requestId));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return approved;
  }

  it('passes its pytest integration tests: allow with token and proof, deny, fail closed, approval, asyncio, decorator', async () => {
    const pytest = runPython(python, ['-m', 'pytest', '-v', '-rA', 'tests/integration'], env, 360_000);
    const approved = await approveWhile(pytest);
    const { code, output } = await pytest;
    if (code !== 0) throw new Error(`pytest failed (exit ${code}): ${pytestSummary(output)}\n\n${output}`);
    console.log(`pytest tests/integration: ${pytestSummary(output)}`);
    expect(output).not.toMatch(/\bskipped\b/);
    expect(approved.length).toBeGreaterThan(0);
    // Every outcome the tests reported is on the request's record.
    const report = JSON.parse(readFileSync(env.WARDEN_REPORT, 'utf8')) as { completed: string[] };
    expect(report.completed.length).toBeGreaterThanOrEqual(5);
    for (const requestId of report.completed) {
      const traced = await eventually(
        async () => {
          const r = await call(running.stack.urls.trace, 'GET', `/requests/${requestId}`, admin);
          return r.status === 200 && r.body.outcomeStatus ? r.body : undefined;
        },
        30_000,
        `trace's record of the outcome of ${requestId}`,
      );
      expect(traced).toMatchObject({ verdict: 'allow', outcomeStatus: 'completed' });
    }
  });

  it("runs the README's example", async () => {
    const readme = readFileSync(join(SDK_PYTHON, 'README.md'), 'utf8');
    const example =
      /<!-- doc-test: skip run by test\/e2e\/python-sdk\.e2e\.spec\.ts -->\s*```python\n([\s\S]*?)```/.exec(readme);
    expect(example).not.toBeNull();
    const file = join(WORK, 'readme_example.py');
    writeFileSync(file, example![1]);
    const { code, output } = await runPython(python, [file], env, 60_000);
    if (code !== 0) throw new Error(`the README's example failed (exit ${code}):\n${output}`);
    expect(output).toMatch(/^allow /m);
    expect(output).toMatch(/^deny .*outside the agent/m);
  });
});
