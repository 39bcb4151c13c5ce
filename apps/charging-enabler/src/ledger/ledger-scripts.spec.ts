import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ch2ResultCode } from '@imc/ch2';
import { readLuaScripts } from '@imc/runtime';
import { LEDGER_SCRIPTS, LedgerScriptName } from './ledger-scripts';
import { ledgerLuaPrelude } from './lua-prelude';

const LUA_DIR = join(__dirname, 'lua');
const loaded = readLuaScripts(LUA_DIR);
const names = Object.keys(LEDGER_SCRIPTS) as LedgerScriptName[];

function header(file: string): string {
  const text = readFileSync(join(LUA_DIR, file), 'utf8');
  const m = /^--\[\[\n([\s\S]*?)\n\]\]\n/.exec(text);
  if (!m) throw new Error(`${file} has no --[[ ]] header`);
  return m[1];
}

/** The script as loaded (includes expanded), without its header. */
function body(file: string): string {
  const lua = loaded.get(file.replace(/-\d+\.lua$/, ''))!.lua;
  return lua.replace(/^--\[\[[\s\S]*?\]\]\n/, '');
}

/** The header's key list: from its line that starts with `KEYS[1]` to its `ARGV[1]` line. */
function keyList(file: string): string {
  const m = /^\s*KEYS\[1\][\s\S]*?(?=^\s*ARGV\[1\])/m.exec(header(file));
  if (!m) throw new Error(`${file}: the header has no KEYS[1] line before its ARGV[1] line`);
  return m[0];
}

/** The header's argument list: from its `ARGV[1]` line to its `Returns` line. */
function argumentList(file: string): string {
  const m = /^\s*ARGV\[1\][\s\S]*?(?=^\s*Returns|$(?![\s\S]))/m.exec(header(file));
  if (!m) throw new Error(`${file}: the header has no ARGV[1] line`);
  return m[0];
}

const unique = (xs: string[]) => [...new Set(xs)];

describe('the ledger contract table and the Lua scripts agree', () => {
  it('every script file is in the table, and every table row has its file', () => {
    const files = [...loaded.keys()].sort();
    expect(names.map((n) => LEDGER_SCRIPTS[n].file.replace(/-\d+\.lua$/, '')).sort()).toEqual(files);
  });

  describe.each(names)('%s', (name) => {
    const spec = LEDGER_SCRIPTS[name];

    it("is named with the table's key count", () => {
      expect(spec.file).toBe(`${spec.file.replace(/-\d+\.lua$/, '')}-${spec.keys.length}.lua`);
    });

    it('its header lists the KEYS of the table, in order', () => {
      const listed = [...keyList(spec.file).matchAll(/\bKEYS\[(\d+)\] (\w+)/g)].map((m) => [Number(m[1]), m[2]]);
      expect(listed).toEqual(spec.keys.map((k, i) => [i + 1, k]));
    });

    it("its header lists the argument object's fields of the table, in order, `?` on the optional ones", () => {
      const listed = unique([...argumentList(spec.file).matchAll(/\bA\.(\w+\??)/g)].map((m) => m[1]));
      expect(listed).toEqual([...spec.fields]);
    });

    it('its code reads only the keys and fields of the table, and ARGV only through the prelude', () => {
      const code = body(spec.file);
      const keyIdx = unique([...code.matchAll(/KEYS\[(\d+)\]/g)].map((m) => m[1])).map(Number);
      expect(Math.max(...keyIdx)).toBeLessThanOrEqual(spec.keys.length);
      const fields = spec.fields.map((f) => f.replace('?', ''));
      const used = unique([...code.matchAll(/\bA\.(\w+)/g)].map((m) => m[1]));
      expect(used.filter((f) => !fields.includes(f))).toEqual([]);
      expect(code).not.toMatch(/ARGV/);
    });

    it('writes no CH-2 result or code as a literal, and names only results libs/ch2 defines', () => {
      const code = body(spec.file);
      expect(code).not.toMatch(/result(Code)?\s*=\s*['"\d]/);
      const named = unique([...code.matchAll(/\b(?:RESULT|CODE)\.(\w+)/g)].map((m) => m[1]));
      expect(named.filter((n) => !(n in Ch2ResultCode))).toEqual([]);
    });
  });
});

describe('the generated prelude', () => {
  it('defines every CH-2 result of libs/ch2 with its code, and decodes the argument object', () => {
    const p = ledgerLuaPrelude();
    for (const [n, c] of Object.entries(Ch2ResultCode)) {
      expect(p).toContain(`${n} = '${n}'`);
      expect(p).toContain(`${n} = ${c}`);
    }
    expect(p).toContain('local A = cjson.decode(ARGV[1])');
  });

  it('refuses a result it cannot write to Lua', () => {
    expect(() => ledgerLuaPrelude({ "X'": 1 })).toThrow(/cannot be written/);
    expect(() => ledgerLuaPrelude({ X: 1.5 })).toThrow(/cannot be written/);
  });
});
