/** Helpers of the background-window tests: a tariff whose cheap window is under way now, and HTTP calls with a token. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/**
 * A tariff file (UTC) for `im.deferred-retrieval`: base 5 + 1/KiB; a `cheap` window from an hour ago to two hours
 * from now at 2 + 1/KiB, whose background retrievals are rated at `bdt-cheap` (1 per message, nothing per KiB).
 */
export function tariffFileWithWindowNow(now = Date.now()): string {
  const dir = mkdtempSync(join(tmpdir(), 'imc-bdt-'));
  const file = join(dir, 'tariffs.yaml');
  writeFileSync(
    file,
    [
      'tariffs:',
      '  im.deferred-retrieval:',
      '    currency: EUR',
      '    timeZone: UTC',
      '    pricePerMessage: 5',
      '    pricePerKiB: 1',
      '    windows:',
      `      - { name: cheap, from: "${hhmm(now - 3600000)}", to: "${hhmm(now + 7200000)}", pricePerMessage: 2, pricePerKiB: 1, ratingGroup: bdt-cheap }`,
      '    ratingGroups:',
      '      bdt-cheap: { pricePerMessage: 1, pricePerKiB: 0 }',
      '',
    ].join('\n'),
  );
  return file;
}

export { httpJson as http } from '../support/enabler-harness';
