/**
 * The Lua prelude every ledger script is loaded with, generated from libs/ch2 when the scripts are loaded, so the
 * CH-2 results exist once (libs/ch2/src/results.ts) and the scripts never write a result code as a literal:
 * `RESULT.<NAME>` is the result's name and `CODE.<NAME>` its Diameter Result-Code (docs/ch2-contract.md "Results");
 * either fails the script on a name libs/ch2 does not define. `A` is the script's argument object (ARGV[1], JSON,
 * ledger-scripts.ts), decoded once.
 */
import { Ch2ResultCode } from '@imc/ch2';

const STRICT = "{__index = function(_, k) error('unknown CH-2 result ' .. tostring(k)) end}";

export function ledgerLuaPrelude(codes: Readonly<Record<string, number>> = Ch2ResultCode): string {
  const names = Object.keys(codes);
  for (const n of names) {
    if (!/^[A-Z][A-Z_]*$/.test(n) || !Number.isInteger(codes[n])) throw new Error(`CH-2 result ${n} cannot be written to Lua`);
  }
  return [
    '-- generated from libs/ch2 (Ch2ResultCode) by ledger/lua-prelude.ts when the scripts are loaded',
    `local RESULT = setmetatable({${names.map((n) => `${n} = '${n}'`).join(', ')}}, ${STRICT})`,
    `local CODE = setmetatable({${names.map((n) => `${n} = ${codes[n]}`).join(', ')}}, ${STRICT})`,
    'local A = cjson.decode(ARGV[1])',
    '',
  ].join('\n');
}
