/**
 * The digest nonce-count store of the im-server (the `NonceCounts` port of libs/sip): one Redis key per
 * (nonce, username), advanced by one Lua script, so every replica — and the same replica after a restart — refuses
 * a nonce-count it has already seen (RFC 2617 §3.2.2).
 */
import type { NonceCounts } from '@imc/sip';
import type { LuaFn, RedisClient } from '@imc/runtime';
import { AuthKeys } from './auth-keys';
import { authScripts } from './auth-scripts';

export class RedisNonceCounts implements NonceCounts {
  private readonly lua: Record<string, LuaFn>;

  constructor(redis: RedisClient, private readonly keys: AuthKeys) {
    this.lua = authScripts(redis);
  }

  async advance(nonce: string, username: string, nc: number, ttlMs: number): Promise<boolean> {
    return (await this.lua['nonce-count-advance'](this.keys.nonceCount(nonce, username), nc, Math.ceil(ttlMs))) === 1;
  }
}
