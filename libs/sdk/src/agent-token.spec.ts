import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import { AgentTokenSource } from './agent-token';

/** A token endpoint speaking the registry's protocol over real HTTP, recording what it was sent. */
describe('AgentTokenSource', () => {
  let server: Server;
  let url = '';
  const forms: URLSearchParams[] = [];
  let answer: { status: number; body: object } = { status: 200, body: {} };
  let issued = 0;

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      forms.push(new URLSearchParams(text));
      issued += 1;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.status === 200 ? { access_token: `t${issued}`, expires_in: 300 } : answer.body));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));
  beforeEach(() => {
    forms.length = 0;
    answer = { status: 200, body: {} };
  });

  it('sends client credentials with the secret, reuses the token until shortly before it expires', async () => {
    let now = 1_000_000;
    const source = new AgentTokenSource({ registryUrl: url, agentId: 'bot', clientSecret: 'c1.s' }, () => now);
    const [a, b] = await Promise.all([source.token(), source.token()]);
    expect(a).toBe(b);
    expect(forms).toHaveLength(1);
    expect(Object.fromEntries(forms[0])).toEqual({
      grant_type: 'client_credentials',
      client_id: 'bot',
      client_secret: 'c1.s',
    });
    now += 260_000;
    expect(await source.token()).toBe(a);
    now += 20_000;
    expect(await source.token()).not.toBe(a);
    expect(forms).toHaveLength(2);
  });

  it('signs a private_key_jwt assertion for the registry with the credential id as kid', async () => {
    const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(pair.privateKey);
    await new AgentTokenSource({ registryUrl: url, agentId: 'bot', privateKey: { credentialId: 'c9', jwk } }).token();
    const assertion = forms[0].get('client_assertion')!;
    expect(forms[0].get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(decodeProtectedHeader(assertion).kid).toBe('c9');
    const { payload } = await jwtVerify(assertion, await importJWK(await exportJWK(pair.publicKey), 'EdDSA'), {
      issuer: 'bot',
      subject: 'bot',
      audience: 'warden-registry',
    });
    expect(payload.jti).toEqual(expect.any(String));
  });

  it('rejects when the registry refuses, so the client fails closed', async () => {
    answer = { status: 401, body: { detail: 'client authentication failed' } };
    const source = new AgentTokenSource({ registryUrl: url, agentId: 'bot', clientSecret: 'c1.bad' });
    await expect(source.token()).rejects.toThrow('token endpoint answered 401: client authentication failed');
    expect(() => new AgentTokenSource({ registryUrl: url, agentId: 'bot' })).toThrow('clientSecret or a privateKey');
  });
});
