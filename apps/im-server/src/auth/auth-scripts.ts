/** The Lua scripts of `lua/`, defined once per Redis client and shared by the nonce-count store and the throttle. */
import { join } from 'node:path';
import { defineLuaScripts, LuaFn, RedisClient } from '@imc/runtime';

const loaded = new WeakMap<RedisClient, Record<string, LuaFn>>();

export function authScripts(redis: RedisClient): Record<string, LuaFn> {
  let fns = loaded.get(redis);
  if (!fns) loaded.set(redis, (fns = defineLuaScripts(redis, join(__dirname, 'lua'), 'imc_auth')));
  return fns;
}
