import { RateLimitedLog } from './rate-limited-log';
import { isStorageUnavailable } from './storage-unavailable.filter';

describe('RateLimitedLog', () => {
  it('writes the first line of a key, holds back the rest of the interval, then says how many it held', () => {
    let now = 0;
    const lines: string[] = [];
    const log = new RateLimitedLog((l) => lines.push(l), 1000, () => now);
    for (let i = 0; i < 50; i++) log.log('ch2.debit', `ch2.debit failed: MOVED ${i}`);
    log.log('ch2.reserve', 'ch2.reserve failed');
    expect(lines).toEqual(['ch2.debit failed: MOVED 0', 'ch2.reserve failed']);
    now = 1500;
    log.log('ch2.debit', 'ch2.debit failed: MOVED 50');
    expect(lines[2]).toBe('ch2.debit failed: MOVED 50 (and 49 more like it in the last 2 s)');
    now = 3000;
    log.log('ch2.debit', 'again');
    expect(lines[3]).toBe('again');
  });
});

describe('isStorageUnavailable', () => {
  it.each([
    ['CLUSTERDOWN The cluster is down', true],
    ['MOVED 2843 127.0.0.1:26240', true],
    ['Too many Cluster redirections. Last error: Error: Connection is closed.', true],
    ['READONLY You can\'t write against a read only replica.', true],
    ['subscriber: must be a sip:, sips: or tel: URI', false],
    ['Cannot read properties of undefined', false],
  ])('%s → %s', (message, expected) => {
    expect(isStorageUnavailable(new Error(message))).toBe(expected);
  });
});
