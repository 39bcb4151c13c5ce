/**
 * The application servers allowed to negotiate background windows (T8 SCS/AS), each with its own bearer token:
 * from configuration (BDT_AS_TOKENS) and from the admin API (stored in Redis as the token's SHA-256, never the
 * token). A token is valid for its own asId only (docs/windows-and-usage.md "Who may call").
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RedisClient } from '@imc/runtime';
import type { BdtKeys } from './bdt-keys';

export const AS_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MIN_AS_TOKEN_LENGTH = 16;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export interface AsEntry {
  asId: string;
  source: 'configuration' | 'admin-api';
  createdAt?: string;
}

export class AsRegistry {
  private readonly configured = new Map<string, Buffer>();

  constructor(private readonly redis: RedisClient, private readonly keys: BdtKeys, configured: ReadonlyMap<string, string> = new Map()) {
    for (const [asId, token] of configured) this.configured.set(asId, sha256(token));
  }

  private async hashOf(asId: string): Promise<Buffer | undefined> {
    const c = this.configured.get(asId);
    if (c) return c;
    const raw = await this.redis.hget(this.keys.asRegistry, asId);
    return raw ? Buffer.from((JSON.parse(raw) as { tokenSha256: string }).tokenSha256, 'hex') : undefined;
  }

  async known(asId: string): Promise<boolean> {
    return (await this.hashOf(asId)) !== undefined;
  }

  /** Whether `token` is `asId`'s own token (false for an unknown asId). */
  async tokenFits(asId: string, token: string): Promise<boolean> {
    const want = await this.hashOf(asId);
    return !!want && timingSafeEqual(want, sha256(token));
  }

  /** Registers (or re-keys) an application server; true when it is new. A configured one cannot be changed here. */
  async register(asId: string, token: string, now = new Date()): Promise<'created' | 'updated' | 'configured'> {
    if (this.configured.has(asId)) return 'configured';
    const n = await this.redis.hset(this.keys.asRegistry, asId, JSON.stringify({ tokenSha256: sha256(token).toString('hex'), createdAt: now.toISOString() }));
    return n === 1 ? 'created' : 'updated';
  }

  async remove(asId: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.asRegistry, asId)) === 1;
  }

  async list(): Promise<AsEntry[]> {
    const stored = await this.redis.hgetall(this.keys.asRegistry);
    const out: AsEntry[] = [...this.configured.keys()].map((asId) => ({ asId, source: 'configuration' as const }));
    for (const [asId, raw] of Object.entries(stored)) {
      if (!this.configured.has(asId)) out.push({ asId, source: 'admin-api', createdAt: (JSON.parse(raw) as { createdAt?: string }).createdAt });
    }
    return out.sort((a, b) => a.asId.localeCompare(b.asId));
  }
}
