import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { callerHeaders } from '@warden/platform';
import { kafkaBrokers } from '@warden/platform/testing';
import { publishToolContracts } from '@warden/local-stack';
import { GateResult, JsonObject, ToolVerifier, WardenClient } from '@warden/sdk';
import { call, Identity, registerActiveAgent } from './http';
import { pythonVenv, pytestSummary, runPython } from './python';
import { startTestStack, TestStack } from './stack';

/**
 * Tool-side enforcement (ADR 0120) against the six services as processes on the test broker, agent
 * tokens required: an agent with `tickets` and `files` granted for `read` asks the real gate with
 * the SDK (client secret, agent token, request proofs), then calls a Node HTTP tool server guarded
 * by `ToolVerifier` with the decision token. The tool accepts the gate's token and refuses a call
 * without one, another tool's token, another action, changed arguments; after a kill switch on the
 * run is engaged over the kill switch service's HTTP API it refuses the same token as revoked. Then
 * the same against a Python HTTP tool server (wsgiref + `warden.wsgi_middleware`) run by pytest
 * (libs/sdk-python/tests/toolside) in the SDK's venv.
 */
jest.setTimeout(300_000);

const admin: Identity = { subject: 'alice', roles: ['admin'], tenant: 'acme' };
const sre: Identity = { subject: 'sam', roles: ['sre'], tenant: 'acme' };
/** The tool server's own identity towards the kill switch service: a reader of its tenant. */
const toolReader: Identity = { subject: 'tickets-tool', roles: ['auditor'], tenant: 'acme' };
const AGENT = 'tool-bot';

describe('tool-side enforcement: tool servers verify decision tokens from the real gate', () => {
  let running: TestStack;
  let python: string;
  let secret: string;
  let client: WardenClient;
  let tool: Server;
  let toolUrl = '';

  beforeAll(async () => {
    const [venv, stack] = await Promise.all([pythonVenv(), startTestStack('tool-verifier')]);
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
        ],
      },
      files: { description: 'the file store', ownerTeam: 'support', actions: [['read', 'low', false]] },
    });
    await registerActiveAgent(registry, admin, AGENT, [
      { tool: 'tickets', actions: ['read', 'write'], ...pins.tickets },
      { tool: 'files', actions: ['read'], ...pins.files },
    ]);
    const credential = await call(registry, 'POST', `/agents/${AGENT}/credentials`, admin, {
      kind: 'client_secret',
      reason: 'tool verifier e2e',
    });
    expect(credential.status).toBe(201);
    secret = credential.body.clientSecret as string;
    client = await WardenClient.connect({
      brokers: kafkaBrokers(),
      topicPrefix: stack.prefix,
      clientId: 'e2e-tool-bot',
      agent: { tenantId: 'acme', agentId: AGENT },
      credentials: { registryUrl: registry, agentId: AGENT, clientSecret: secret },
      defaultTimeoutMs: 10_000,
    });

    // The tickets tool: POST /<action> with the arguments as the JSON body, its token in Warden-Decision-Token.
    const verifier = new ToolVerifier({
      registryUrl: registry,
      killswitchUrl: stack.stack.urls.killswitch,
      revocationsAuthorization: async () => (await callerHeaders(toolReader)).authorization,
      revocationsPollMs: 500,
    });
    tool = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const args = JSON.parse(body || '{}') as { ticket?: number };
        void verifier
          .guard(req, res, { tool: 'tickets', action: (req.url ?? '/').slice(1), arguments: args })
          .then((claims) => {
            if (!claims) return;
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ ticket: args.ticket, status: 'open', run: claims.run }));
          });
      });
    });
    await new Promise<void>((done) => tool.listen(0, '127.0.0.1', done));
    toolUrl = `http://127.0.0.1:${(tool.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await client?.close();
    if (tool) await new Promise<void>((done) => tool.close(() => done()));
    await running?.stop();
  });

  const post = async (action: string, body: object, token?: string) => {
    const res = await fetch(`${toolUrl}/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { 'warden-decision-token': token } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** The gate's allow of a read (asked again while the policy service learns the new agent). */
  async function allowed(runId: string, toolName: string, args: JsonObject): Promise<GateResult> {
    const until = Date.now() + 60_000;
    for (;;) {
      const r = await client.gate({
        runId,
        action: { kind: 'tool_call', tool: toolName, name: 'read' },
        arguments: args,
        environment: 'prod',
        estimatedTokens: 10,
      });
      if (r.allowed || Date.now() > until) {
        if (!r.allowed) throw new Error(`the gate did not allow ${toolName}.read: ${r.verdict} ${r.reason}`);
        return r;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  it('a Node tool server accepts the gate-allowed call, refuses the rest, and refuses the token once revoked', async () => {
    const runId = `run-node-${Date.now()}`;
    const args = { ticket: 42, note: 'customer asked twice' };
    const result = await allowed(runId, 'tickets', args);
    const token = result.decisionToken!;
    expect(await post('read', args, token)).toEqual({ status: 200, body: { ticket: 42, status: 'open', run: runId } });

    // An agent that skips the gate gets nothing; nor does one that reuses a token for something else.
    expect(await post('read', args)).toMatchObject({ status: 401, body: { code: 'missing_token' } });
    expect(await post('read', { ...args, ticket: 43 }, token)).toMatchObject({
      status: 403,
      body: { code: 'digest_mismatch' },
    });
    expect(await post('write', args, token)).toMatchObject({ status: 403, body: { code: 'wrong_action' } });
    const files = await allowed(runId, 'files', args);
    expect(await post('read', args, files.decisionToken)).toMatchObject({
      status: 403,
      body: { code: 'wrong_audience' },
    });

    // A kill switch on the run, engaged over HTTP: the token handed out before it is refused as revoked.
    const engaged = await call(running.stack.urls.killswitch, 'POST', '/killswitches', sre, {
      scope: { tenantId: 'acme', runId },
      reason: 'tool-side e2e',
    });
    expect(engaged.status).toBe(201);
    const until = Date.now() + 30_000;
    let after = await post('read', args, token);
    while (after.status === 200 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      after = await post('read', args, token);
    }
    expect(after).toMatchObject({ status: 403, body: { code: 'revoked' } });
    expect(String(after.body.detail)).toContain(`revoked by kill switch ${String(engaged.body.switchId)}`);
  });

  it('a Python tool server (wsgiref + warden.wsgi_middleware) does the same, in pytest against the stack', async () => {
    const env = {
      WARDEN_BROKERS: kafkaBrokers().join(','),
      WARDEN_TOPIC_PREFIX: running.prefix,
      WARDEN_REGISTRY_URL: running.stack.urls.registry,
      WARDEN_KILLSWITCH_URL: running.stack.urls.killswitch,
      WARDEN_TENANT: 'acme',
      WARDEN_AGENT_ID: AGENT,
      WARDEN_CLIENT_SECRET: secret,
      WARDEN_READER_AUTHORIZATION: (await callerHeaders(toolReader)).authorization,
      WARDEN_SRE_AUTHORIZATION: (await callerHeaders(sre)).authorization,
    };
    const { code, output } = await runPython(python, ['-m', 'pytest', '-v', '-rA', 'tests/toolside'], env, 240_000);
    if (code !== 0) throw new Error(`pytest failed (exit ${code}): ${pytestSummary(output)}\n\n${output}`);
    console.log(`pytest tests/toolside: ${pytestSummary(output)}`);
    expect(output).not.toMatch(/\bskipped\b/);
    expect(output).toMatch(/\b1 passed\b/);
  });
});
