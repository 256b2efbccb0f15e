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
});
