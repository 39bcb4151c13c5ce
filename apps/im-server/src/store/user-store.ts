/**
 * SIP users and their registrations (RFC 3261 §10): digest credentials stored as HA1 per algorithm (never the
 * password), and bindings (contact, expiry, the flow they registered on).
 */
import type { RedisClient } from '@imc/runtime';

export interface Binding {
  contact: string;
  expiresAt: number;
  flowId: string;
  transport: string;
  address: string;
  port: number;
}

export class UserStore {
  constructor(private readonly redis: RedisClient, private readonly prefix: string) {}

  private credKey(aor: string) {
    return `${this.prefix}user:cred:{${aor}}`;
  }
  private regKey(aor: string) {
    return `${this.prefix}user:reg:{${aor}}`;
  }

  async setCredentials(aor: string, ha1: Record<string, string>): Promise<boolean> {
    const created = !(await this.redis.exists(this.credKey(aor)));
    await this.redis.hset(this.credKey(aor), ha1);
    return created;
  }

  async ha1(aor: string, algorithm: string): Promise<string | undefined> {
    return (await this.redis.hget(this.credKey(aor), algorithm)) ?? undefined;
  }

  async exists(aor: string): Promise<boolean> {
    return (await this.redis.exists(this.credKey(aor))) === 1;
  }

  async bind(aor: string, b: Binding): Promise<void> {
    await this.redis.hset(this.regKey(aor), b.contact, JSON.stringify(b));
    await this.redis.pexpireat(this.regKey(aor), b.expiresAt + 1000);
  }

  async unbind(aor: string, contact?: string): Promise<void> {
    if (contact === undefined) await this.redis.del(this.regKey(aor));
    else await this.redis.hdel(this.regKey(aor), contact);
  }

  /** Live bindings (expired ones are removed on the way). */
  async bindings(aor: string): Promise<Binding[]> {
    const all = await this.redis.hgetall(this.regKey(aor));
    const now = Date.now();
    const out: Binding[] = [];
    const dead: string[] = [];
    for (const [c, v] of Object.entries(all)) {
      const b = JSON.parse(v) as Binding;
      if (b.expiresAt > now) out.push(b);
      else dead.push(c);
    }
    if (dead.length) await this.redis.hdel(this.regKey(aor), ...dead);
    return out;
  }
}
