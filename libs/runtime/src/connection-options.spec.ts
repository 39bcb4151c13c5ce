import { connect } from 'nats';
import { natsConnectionOptions, redisConnection } from './connection-options';
import { ConfigError } from './env-reader';
import { readServiceEnv } from './service-kit';
import { EnvReader } from './env-reader';

const NASTY = 'p@ss/w:rd#1 ,%';

describe('natsConnectionOptions', () => {
  it('takes user and password out of the URL, percent-decoded, and passes the servers without them', () => {
    expect(natsConnectionOptions(`nats://imc:${encodeURIComponent(NASTY)}@nats:4222`)).toEqual({ servers: ['nats://nats:4222'], user: 'imc', pass: NASTY });
  });

  it('lets NATS_USER / NATS_PASSWORD (verbatim) win over the URL', () => {
    expect(natsConnectionOptions('nats://old:old@a:4222,nats://b:4222', { user: 'imc', password: NASTY })).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      user: 'imc',
      pass: NASTY,
    });
    expect(natsConnectionOptions('nats://imc@a:4222', { password: NASTY })).toEqual({ servers: ['nats://a:4222'], user: 'imc', pass: NASTY });
  });

  it('reads a user alone as a token, and leaves a server without credentials as it is', () => {
    expect(natsConnectionOptions('nats://s3cr3t@a:4222')).toEqual({ servers: ['nats://a:4222'], token: 's3cr3t' });
    expect(natsConnectionOptions('nats://127.0.0.1:4222, tls://b:4443')).toEqual({ servers: ['nats://127.0.0.1:4222', 'tls://b:4443'] });
  });

  it('refuses a password without a user, and servers with different credentials, naming the variable', () => {
    expect(() => natsConnectionOptions('nats://a:4222', { password: 'x' })).toThrow(/NATS_PASSWORD needs NATS_USER/);
    expect(() => natsConnectionOptions('nats://u:one@a:4222,nats://u:two@b:4222')).toThrow(ConfigError);
    expect(() => natsConnectionOptions('nats://u:one@a:4222,nats://u:two@b:4222')).toThrow(/NATS_URL/);
  });
});

describe('redisConnection', () => {
  it('takes the credentials out of the URL (decoded) and keeps the database and scheme', () => {
    expect(redisConnection(`rediss://default:${encodeURIComponent(NASTY)}@r:6380/2`)).toEqual({ url: 'rediss://r:6380/2', username: 'default', password: NASTY });
    expect(redisConnection(`redis://:${encodeURIComponent(NASTY)}@r:6379`)).toEqual({ url: 'redis://r:6379', password: NASTY });
  });

  it('lets REDIS_PASSWORD win and keeps cluster node lists', () => {
    expect(redisConnection('redis://a:7000,redis://b:7001', { password: NASTY })).toEqual({ url: 'redis://a:7000,redis://b:7001', password: NASTY });
    expect(redisConnection('redis://127.0.0.1:6379')).toEqual({ url: 'redis://127.0.0.1:6379' });
  });
});

describe('readServiceEnv', () => {
  const base = { NODE_ENV: 'development' };

  it('builds both connections from the separate variables, passwords verbatim', () => {
    const env = readServiceEnv(
      new EnvReader({ ...base, NATS_URL: 'nats://nats:4222', NATS_USER: 'imc', NATS_PASSWORD: ` ${NASTY} `, REDIS_URL: 'redis://redis:6379', REDIS_PASSWORD: NASTY }),
    );
    expect(env.nats).toEqual({ servers: ['nats://nats:4222'], user: 'imc', pass: ` ${NASTY} ` });
    expect(env.redis).toEqual({ url: 'redis://redis:6379', password: NASTY });
  });

  it('names the variable of an unparsable URL without printing its password', () => {
    const run = () => readServiceEnv(new EnvReader({ ...base, REDIS_URL: 'redis://:sec@ret#x@redis:6379' }));
    expect(run).toThrow(/REDIS_URL/);
    try {
      run();
    } catch (e) {
      expect((e as Error).message).not.toMatch(/sec|ret/);
    }
    const bad = () => readServiceEnv(new EnvReader({ ...base, NATS_URL: 'http://u:hunter2@nats:4222' }));
    expect(bad).toThrow(/NATS_URL must use nats or tls/);
    expect(bad).not.toThrow(/hunter2/);
  });
});

describe('nats.js with these options (real NATS)', () => {
  it('connects to the test NATS with the credential-free server list', async () => {
    const opts = natsConnectionOptions(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
    const nc = await connect({ ...opts, name: 'connection-options-spec', noAsyncTraces: true });
    expect(nc.isClosed()).toBe(false);
    await nc.close();
  });
});
