/**
 * Loads the ledger's scripts as the table in ledger-scripts.ts describes them: each file (with its includes) behind
 * the generated prelude, defined on the client with ioredis `defineCommand` (run by EVALSHA), and called through a
 * typed function that builds the keys (LedgerKeys) in the table's KEYS order and passes the argument object as one
 * JSON ARGV.
 */
import { join } from 'node:path';
import { readLuaScripts, RedisClient } from '@imc/runtime';
import { LedgerKeys, ScriptKeyContext } from './ledger-keys';
import { LEDGER_SCRIPTS, LedgerCommands, LedgerScriptName } from './ledger-scripts';
import { ledgerLuaPrelude } from './lua-prelude';

export const LEDGER_LUA_DIR = join(__dirname, 'lua');

type RawCommand = (...args: string[]) => Promise<unknown>;

export function defineLedgerCommands(redis: RedisClient, ledgerKeys: LedgerKeys): LedgerCommands {
  const files = readLuaScripts(LEDGER_LUA_DIR);
  const prelude = ledgerLuaPrelude();
  const out: Partial<Record<LedgerScriptName, unknown>> = {};
  for (const name of Object.keys(LEDGER_SCRIPTS) as LedgerScriptName[]) {
    const spec = LEDGER_SCRIPTS[name];
    const m = /^([a-z-]+)-(\d+)\.lua$/.exec(spec.file);
    const loaded = m && files.get(m[1]);
    if (!m || !loaded) throw new Error(`ledger script ${name}: ${spec.file} not found`);
    if (loaded.numberOfKeys !== spec.keys.length)
      throw new Error(`ledger script ${name}: ${spec.file} takes ${loaded.numberOfKeys} keys, the table names ${spec.keys.length}`);
    const cmd = `imc_ledger_${m[1].replace(/-/g, '_')}`;
    redis.defineCommand(cmd, { numberOfKeys: spec.keys.length, lua: prelude + loaded.lua });
    const raw = (redis as unknown as Record<string, RawCommand>)[cmd].bind(redis);
    const keyNames = spec.keys;
    out[name] = (at: ScriptKeyContext, args: object) => {
      const argv = ledgerKeys.forScript(keyNames, at);
      argv.push(JSON.stringify(args));
      return raw(...argv);
    };
  }
  return out as LedgerCommands;
}
