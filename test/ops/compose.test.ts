/**
 * docker-compose.yml is valid and complete: Debian's docker-compose parses and interpolates it without an engine.
 * Every service has a health check, the services wait for healthy dependencies, SIP/MSRP/HTTP ports are published,
 * and the secrets come from the env file.
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
    for (const [name, s] of Object.entries<Record<string, unknown>>(c.services)) expect({ name, healthcheck: !!s.healthcheck }).toEqual({ name, healthcheck: true });
    expect(c.services['im-server'].depends_on['charging-enabler']).toEqual({ condition: 'service_healthy' });
  });

  it('publishes SIP (UDP and TCP), SIP-over-WebSocket, MSRP and admin HTTP ports', () => {
    const ports = config().services['im-server'].ports.map((p: { target: number; protocol?: string }) => `${p.target}/${p.protocol ?? 'tcp'}`);
    expect(ports).toEqual(expect.arrayContaining(['5060/udp', '5060/tcp', '5066/tcp', '2855/tcp', '2856/tcp', '8080/tcp']));
  });

  it('takes secrets from the env file and refuses to start without them', () => {
    const env = config().services['charging-enabler'].environment;
    expect(env.ADMIN_TOKEN).toBe('change-me-admin-token');
    expect(env.REDIS_URL).toBe('redis://:change-me-redis-password@redis:6379');
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

  it('Redis persists with AOF and NATS runs JetStream', () => {
    const c = config();
    expect(c.services.redis.command.join(' ')).toContain('/usr/local/etc/redis/redis.conf');
    const fs = require('node:fs') as typeof import('node:fs');
    expect(fs.readFileSync(join(ROOT, 'deploy/redis/redis.conf'), 'utf8')).toMatch(/^appendonly yes$/m);
    expect(fs.readFileSync(join(ROOT, 'deploy/nats/nats.conf'), 'utf8')).toMatch(/jetstream \{/);
  });
});
