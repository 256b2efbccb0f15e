import { ConfigError, env, platformSchema, readConfig } from './config';

describe('configuration from the environment', () => {
  it('applies defaults', () => {
    const c = readConfig(platformSchema, {});
    expect(c).toMatchObject({
      kafkaBrokers: ['127.0.0.1:19092'],
      topicPrefix: 'warden.',
      partitions: 6,
      logLevel: 'info',
    });
  });

  it('names every variable at fault in one error', () => {
    const read = () =>
      readConfig(platformSchema, {
        KAFKA_BROKERS: 'localhost',
        WARDEN_PARTITIONS: 'six',
        DATABASE_URL: 'mysql://x/y',
        LOG_LEVEL: 'loud',
        WARDEN_TOPIC_PREFIX: 'bad prefix!',
      });
    expect(read).toThrow(ConfigError);
    try {
      read();
    } catch (error) {
      const problems = (error as ConfigError).problems.join('\n');
      for (const name of ['KAFKA_BROKERS', 'WARDEN_PARTITIONS', 'DATABASE_URL', 'LOG_LEVEL', 'WARDEN_TOPIC_PREFIX'])
        expect(problems).toContain(name);
    }
  });

  it('checks ranges, required values and redacts passwords in messages', () => {
    expect(() => readConfig({ p: env.port('HTTP_PORT') }, { HTTP_PORT: '70000' })).toThrow(
      'HTTP_PORT must be <= 65535, got 70000',
    );
    expect(() => readConfig({ s: env.string('REQUIRED_THING') }, {})).toThrow('REQUIRED_THING is required');
    expect(() =>
      readConfig({ u: env.url('DATABASE_URL', ['postgres:']) }, { DATABASE_URL: 'not a url :// user:secret@' }),
    ).toThrow(/DATABASE_URL must be a URL/);
    expect(() =>
      readConfig({ u: env.url('DATABASE_URL', ['postgres:']) }, { DATABASE_URL: 'http://u:hunter2@h/db' }),
    ).toThrow(/use postgres:/);
  });

  it('reads the admin-token issuer: one JWKS source, validated; none means every admin call is refused', () => {
    const jwks = '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc"}]}';
    expect(readConfig(platformSchema, { WARDEN_AUTH_JWKS: jwks }).auth).toEqual({
      issuer: 'warden-dev',
      audience: 'warden-admin',
      jwks: JSON.parse(jwks),
    });
    expect(readConfig(platformSchema, {}).auth).toEqual({ issuer: 'warden-dev', audience: 'warden-admin' });
    expect(
      readConfig(platformSchema, { WARDEN_AUTH_JWKS_URL: 'https://idp.example.com/jwks', WARDEN_AUTH_ISSUER: 'idp' })
        .auth,
    ).toEqual({ issuer: 'idp', audience: 'warden-admin', jwksUrl: 'https://idp.example.com/jwks' });
    expect(() => readConfig(platformSchema, { WARDEN_AUTH_JWKS: '{"keys":[]}' })).toThrow(/WARDEN_AUTH_JWKS must be/);
    expect(() => readConfig(platformSchema, { WARDEN_AUTH_JWKS: 'nope' })).toThrow(/WARDEN_AUTH_JWKS must be/);
    expect(() => readConfig(platformSchema, { WARDEN_AUTH_JWKS_FILE: '/no/such/file' })).toThrow(/cannot be read/);
    expect(() => readConfig(platformSchema, { WARDEN_AUTH_JWKS: jwks, WARDEN_AUTH_JWKS_URL: 'https://x' })).toThrow(
      /set only one/,
    );
  });

  it('reads flags: true/1 or false/0, anything else is refused by name', () => {
    expect(readConfig(platformSchema, {}).stopOnStdinEnd).toBe(false);
    expect(readConfig(platformSchema, { WARDEN_STOP_ON_STDIN_END: 'true' }).stopOnStdinEnd).toBe(true);
    expect(readConfig(platformSchema, { WARDEN_STOP_ON_STDIN_END: '0' }).stopOnStdinEnd).toBe(false);
    expect(() => readConfig(platformSchema, { WARDEN_STOP_ON_STDIN_END: 'yes' })).toThrow(
      'WARDEN_STOP_ON_STDIN_END must be true or false, got "yes"',
    );
  });

  it('reads base64 keys of an exact length without echoing them', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(readConfig({ k: env.base64Key('KEK', 32) }, { KEK: key }).k).toBe(key);
    expect(() => readConfig({ k: env.base64Key('KEK', 32) }, { KEK: 'c2hvcnQ=' })).toThrow(
      'KEK must be 32 bytes, base64 encoded',
    );
  });
});
