/**
 * docker-compose.yml is valid and complete: Debian's docker-compose parses and interpolates it without an engine.
 * Every service has a health check with a start period, the services wait for healthy dependencies, SIP/MSRP/HTTP
 * ports are published, the secrets come from the env file and reach NATS, Redis and the services verbatim (never
 * inside a URL), and the image build context leaves out what is large or secret. `npm run test:compose` runs the
 * stack for real.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parse } from 'yaml';
import { findBinary } from '@imc/runtime';

const ROOT = join(__dirname, '..', '..');
const compose = findBinary('docker-compose');
const maybe = compose ? describe : describe.skip;

maybe('docker-compose.yml', () => {
  const config = () => parse(execFileSync(compose!, ['--env-file', '.env.example', 'config'], { cwd: ROOT, encoding: 'utf8' }));

  it('parses and defines the four services with health checks', () => {
    const c = config();
    expect(Object.keys(c.services).sort()).toEqual(['charging-enabler', 'im-server', 'nats', 'redis']);
    for (const [name, s] of Object.entries<Record<string, any>>(c.services))
      expect({ name, healthcheck: !!s.healthcheck, startPeriod: s.healthcheck?.start_period }).toEqual({ name, healthcheck: true, startPeriod: expect.stringMatching(/^\d+s$/) });
    expect(c.services['im-server'].depends_on['charging-enabler']).toEqual({ condition: 'service_healthy' });
  });

  it('publishes SIP (UDP and TCP), SIP-over-WebSocket, MSRP and admin HTTP ports', () => {
    const ports = config().services['im-server'].ports.map((p: { target: number; protocol?: string }) => `${p.target}/${p.protocol ?? 'tcp'}`);
    expect(ports).toEqual(expect.arrayContaining(['5060/udp', '5060/tcp', '5066/tcp', '2855/tcp', '2856/tcp', '8080/tcp']));
  });

  it('takes secrets from the env file and refuses to start without them', () => {
    const env = config().services['charging-enabler'].environment;
    expect(env.ADMIN_TOKEN).toBe('change-me-admin-token');
    expect(env.REDIS_PASSWORD).toBe('change-me-redis-password');
    expect(env.NATS_PASSWORD).toBe('change-me-nats-password');
    const fs = require('node:fs') as typeof import('node:fs');
    const empty = join(require('node:os').tmpdir(), `imc-empty-${process.pid}.env`);
    fs.writeFileSync(empty, '# no secrets\n');
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(ADMIN_TOKEN|NATS_PASSWORD|REDIS_PASSWORD)$/.test(k)));
    try {
      expect(() => execFileSync(compose!, ['--env-file', empty, 'config'], { cwd: ROOT, stdio: 'pipe', env: bare })).toThrow(/NATS_PASSWORD|REDIS_PASSWORD|ADMIN_TOKEN/);
    } finally {
      fs.rmSync(empty, { force: true });
    }
  });

  it('passes passwords with @ / : # verbatim: never inside a URL, NATS and Redis get them as arguments', () => {
    const fs = require('node:fs') as typeof import('node:fs');
    const file = join(require('node:os').tmpdir(), `imc-nasty-${process.pid}.env`);
    const nasty = { ADMIN_TOKEN: 'a@b/c:d#e', NATS_PASSWORD: 'n@t/s:p#w', REDIS_PASSWORD: 'r@e/d:i#s' };
    fs.writeFileSync(file, Object.entries(nasty).map(([k, v]) => `${k}=${v}\n`).join(''));
    try {
      const c = parse(execFileSync(compose!, ['--env-file', file, 'config'], { cwd: ROOT, encoding: 'utf8' }));
      for (const svc of ['charging-enabler', 'im-server']) {
        const env = c.services[svc].environment;
        expect({ svc, NATS_URL: env.NATS_URL, REDIS_URL: env.REDIS_URL }).toEqual({ svc, NATS_URL: 'nats://nats:4222', REDIS_URL: 'redis://redis:6379' });
        expect({ svc, NATS_PASSWORD: env.NATS_PASSWORD, REDIS_PASSWORD: env.REDIS_PASSWORD }).toEqual({ svc, NATS_PASSWORD: nasty.NATS_PASSWORD, REDIS_PASSWORD: nasty.REDIS_PASSWORD });
      }
      const nats = c.services.nats.command as string[];
      expect(nats[nats.indexOf('--pass') + 1]).toBe(nasty.NATS_PASSWORD);
      const redis = c.services.redis.command as string[];
      expect(redis[redis.indexOf('--requirepass') + 1]).toBe(nasty.REDIS_PASSWORD);
      // and the configuration file does not read them through NATS's variable syntax, which a '#' cuts short
      expect(fs.readFileSync(join(ROOT, 'deploy/nats/nats.conf'), 'utf8')).not.toMatch(/^\s*(user|password)\s*:/m);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('answers MSRP setup passive in the container, and documents SIP_ADVERTISED_HOST', () => {
    expect(config().services['im-server'].environment.MSRP_SETUP).toBe('passive');
    const example = require('node:fs').readFileSync(join(ROOT, '.env.example'), 'utf8') as string;
    expect(example).toMatch(/^SIP_ADVERTISED_HOST=/m);
    expect(example).toMatch(/bridge network/);
  });

  it('builds images from a context without secrets, dependencies, build output or tests', () => {
    const fs = require('node:fs') as typeof import('node:fs');
    const ignore = fs.readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(ignore).toEqual(expect.arrayContaining(['.git', 'node_modules', 'dist', '.env', 'test', 'test-artifacts', 'bench-results', '.imc-data']));
    for (const svc of ['charging-enabler', 'im-server']) {
      const dockerfile = fs.readFileSync(join(ROOT, `deploy/${svc}.Dockerfile`), 'utf8');
      // everything the Dockerfile copies exists and is not ignored; the image build compiles no test code
      for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
        for (const src of m[1].split(/\s+/)) expect({ svc, src, exists: fs.existsSync(join(ROOT, src)), ignored: ignore.includes(src) }).toEqual({ svc, src, exists: true, ignored: false });
      expect(dockerfile).toMatch(/npm run build:image/);
      expect(dockerfile).not.toMatch(/deploy\/Dockerfile/);
    }
    const image = JSON.parse(fs.readFileSync(join(ROOT, 'tsconfig.image.json'), 'utf8'));
    expect(image.include.filter((p: string) => p.startsWith('test'))).toEqual([]);
  });

  it('Redis persists with AOF and NATS runs JetStream', () => {
    const c = config();
    expect(c.services.redis.command.join(' ')).toContain('/usr/local/etc/redis/redis.conf');
    const fs = require('node:fs') as typeof import('node:fs');
    expect(fs.readFileSync(join(ROOT, 'deploy/redis/redis.conf'), 'utf8')).toMatch(/^appendonly yes$/m);
    expect(fs.readFileSync(join(ROOT, 'deploy/nats/nats.conf'), 'utf8')).toMatch(/jetstream \{/);
  });
});
