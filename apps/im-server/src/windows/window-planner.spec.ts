import { TariffBook } from '@imc/ch2';
import { WindowPlanner } from './window-planner';

const tariff = TariffBook.fromObject({
  tariffs: {
    im: {
      currency: 'EUR',
      timeZone: 'Europe/Paris',
      pricePerMessage: 5,
      pricePerKiB: 1,
      windows: [
        { name: 'off-peak', from: '22:00', to: '07:00', pricePerMessage: 2, pricePerKiB: 1, ratingGroup: 'bdt' },
        { name: 'peak', from: '12:00', to: '13:00', pricePerMessage: 9 },
      ],
      ratingGroups: { bdt: { pricePerMessage: 1, pricePerKiB: 0 } },
    },
  },
}).get('im')!;
const iso = (ms: number) => new Date(ms).toISOString();

describe('WindowPlanner: candidate windows from the tariff', () => {
  const p = new WindowPlanner(tariff);

  it('offers each occurrence of a cheaper window inside the desired window, cut to it; never a dearer window', () => {
    // Paris is UTC+1 in December: off-peak 22:00–07:00 local = 21:00Z–06:00Z
    const o = p.occurrences(Date.parse('2026-12-05T12:00:00Z'), Date.parse('2026-12-07T03:00:00Z'));
    expect(o.map((x) => [x.windowId, iso(x.fromMs), iso(x.toMs)])).toEqual([
      ['off-peak@20261205T210000Z', '2026-12-05T21:00:00.000Z', '2026-12-06T06:00:00.000Z'],
      ['off-peak@20261206T210000Z', '2026-12-06T21:00:00.000Z', '2026-12-07T03:00:00.000Z'],
    ]);
    expect(iso(o[1].stopMs)).toBe('2026-12-07T06:00:00.000Z');
  });

  it('an occurrence in progress when the desired window starts is offered from that start', () => {
    const o = p.occurrences(Date.parse('2026-12-06T02:00:00Z'), Date.parse('2026-12-06T04:00:00Z'));
    expect(o.map((x) => [x.windowId, iso(x.fromMs), iso(x.toMs)])).toEqual([['off-peak@20261205T210000Z', '2026-12-06T02:00:00.000Z', '2026-12-06T04:00:00.000Z']]);
  });

  it('a desired window in peak hours only gets nothing', () => {
    expect(p.occurrences(Date.parse('2026-12-05T08:00:00Z'), Date.parse('2026-12-05T20:00:00Z'))).toEqual([]);
  });

  it('follows daylight saving time (Paris: UTC+2 in July, the clocks go back on 25 October 2026)', () => {
    const july = p.occurrences(Date.parse('2026-07-01T00:00:00Z'), Date.parse('2026-07-02T00:00:00Z'));
    expect(july.map((x) => iso(x.startMs))).toEqual(['2026-06-30T20:00:00.000Z', '2026-07-01T20:00:00.000Z']);
    const change = p.occurrences(Date.parse('2026-10-24T12:00:00Z'), Date.parse('2026-10-25T12:00:00Z'));
    expect(change.map((x) => [iso(x.startMs), iso(x.stopMs)])).toEqual([['2026-10-24T20:00:00.000Z', '2026-10-25T06:00:00.000Z']]);
  });
});
