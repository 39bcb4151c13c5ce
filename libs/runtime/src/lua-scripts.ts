/**
 * Loads a folder of Lua scripts named `<name>-<key count>.lua` (one file per atomic operation, as bullmq does),
 * expanding `--@include <name>` lines from its `includes/` folder, and defines each on an ioredis client as
 * `<prefix>_<name>` (run by EVALSHA). Returns callable functions by script name.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from './redis-factory';

export type LuaFn = (...args: (string | number | Buffer)[]) => Promise<unknown>;

export function readLuaScripts(dir: string): Map<string, { numberOfKeys: number; lua: string }> {
  const out = new Map<string, { numberOfKeys: number; lua: string }>();
  for (const file of readdirSync(dir)) {
    const m = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
    if (!m) continue;
    const lua = readFileSync(join(dir, file), 'utf8').replace(/^--@include (\S+)$/gm, (_, inc: string) => {
      const p = join(dir, 'includes', `${inc}.lua`);
      if (!existsSync(p)) throw new Error(`${file}: include ${inc} not found`);
      return readFileSync(p, 'utf8');
    });
    out.set(m[1], { numberOfKeys: Number(m[2]), lua });
  }
  return out;
}

export function defineLuaScripts(redis: RedisClient, dir: string, prefix: string): Record<string, LuaFn> {
  const fns: Record<string, LuaFn> = {};
  for (const [name, s] of readLuaScripts(dir)) {
    const cmd = `${prefix}_${name.replace(/-/g, '_')}`;
    redis.defineCommand(cmd, { numberOfKeys: s.numberOfKeys, lua: s.lua });
    fns[name] = (redis as unknown as Record<string, LuaFn>)[cmd].bind(redis);
  }
  return fns;
}
