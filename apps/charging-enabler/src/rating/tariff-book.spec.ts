import { TariffBook, TariffFileError } from './tariff-book';

const book = TariffBook.fromObject({
  tariffs: {
    'im.x': {
      currency: 'EUR',
      timeZone: 'Europe/Paris',
      pricePerMessage: 10,
      pricePerKiB: 2,
      windows: [{ name: 'off-peak', from: '22:00', to: '07:00', pricePerMessage: 3, pricePerKiB: 1, ratingGroup: 'bdt' }],
      accounts: { 'sip:VIP@Example.com': { pricePerMessage: 0, pricePerKiB: 0 } },
      ratingGroups: { bdt: { pricePerMessage: 1 } },
    },
    'im.lunch': { currency: 'USD', pricePerMessage: 4, windows: [{ name: 'lunch', from: '12:00', to: '13:30', pricePerMessage: 1 }] },
  },
});

describe('rating (ch2-contract.md "Rating")', () => {
  it('prices per message plus per started KiB', () => {
    const r = book.rate('im.x', 'sip:bob@example.com', '2026-11-23T12:00:00Z', [0, 1, 1024, 1025, 10 * 1024]);
    expect(r!.prices).toEqual([10, 12, 12, 14, 30]);
    expect(r!.total).toBe(78);
    expect(r!.unitPrice).toBe(12);
    expect(r!.window).toBeUndefined();
  });

  it('chooses the window by the timestamp in the tariff time zone, wrapping midnight', () => {
    // 21:30Z is 22:30 in Paris (CET, UTC+1 in November): off-peak; 06:30Z is 07:30 Paris: peak again
    expect(book.rate('im.x', 'sip:bob@example.com', '2026-11-23T21:30:00Z', [100])).toMatchObject({ prices: [4], window: 'off-peak' });
    expect(book.rate('im.x', 'sip:bob@example.com', '2026-11-24T05:59:00Z', [100])).toMatchObject({ prices: [4], window: 'off-peak' });
    expect(book.rate('im.x', 'sip:bob@example.com', '2026-11-24T06:30:00Z', [100])!.prices).toEqual([12]);
    // summer time: 20:30Z is 22:30 in Paris (CEST, UTC+2)
    expect(book.rate('im.x', 'sip:bob@example.com', '2026-07-01T20:30:00Z', [100])!.window).toBe('off-peak');
    // a window not wrapping midnight, in UTC, ends exclusive
    expect(book.rate('im.lunch', 'sip:bob@example.com', '2026-11-23T12:15:00Z', [1])!.prices).toEqual([1]);
    expect(book.rate('im.lunch', 'sip:bob@example.com', '2026-11-23T13:30:00Z', [1])!.prices).toEqual([4]);
  });

  it('per-account overrides win over windows; unknown services rate to nothing', () => {
    expect(book.rate('im.x', 'sip:VIP@example.com', '2026-11-23T21:30:00Z', [5000])!.total).toBe(0);
    expect(book.rate('im.nope', 'sip:bob@example.com', '2026-11-23T12:00:00Z', [1])).toBeUndefined();
  });

  it('prices an item naming a rating group by that group, whatever the time; a window is a rating group by its name', () => {
    const r = book.rate('im.x', 'sip:bob@example.com', '2026-11-23T12:00:00Z', [2048, 2048, 2048], ['bdt', undefined, 'off-peak']);
    expect(r!.prices).toEqual([1, 14, 5]);
    expect(book.get('im.x')!.windows[0].ratingGroup).toBe('bdt');
    expect(book.get('im.lunch')!.windows[0].ratingGroup).toBe('lunch'); // default: the window's own prices
    expect(book.unknownGroups('im.x', ['bdt', 'nope', undefined, 'nope'])).toEqual(['nope']);
    // an account override still wins
    expect(book.rate('im.x', 'sip:VIP@example.com', '2026-11-23T12:00:00Z', [2048], ['bdt'])!.prices).toEqual([0]);
  });

  it.each([
    [{}, /"tariffs" map/],
    [{ tariffs: { a: { currency: 'EUR', pricePerMessage: 1, ratingGroups: { 'b g': { pricePerMessage: 1 } } } } }, /"b g" is not a rating group name/],
    [{ tariffs: { a: { currency: 'EUR', pricePerMessage: 1, ratingGroups: { g: {} } } } }, /ratingGroups\.g\.pricePerMessage must be/],
    [{ tariffs: { a: { currency: 'EUR', pricePerMessage: 1, windows: [{ name: 'w', from: '01:00', to: '02:00', ratingGroup: 'missing' }] } } }, /ratingGroup "missing" of window w is not in ratingGroups/],
    [{ tariffs: { a: { currency: 'euro', pricePerMessage: 1 } } }, /currency must be an ISO 4217 code/],
    [{ tariffs: { a: { currency: 'EUR', pricePerMessage: 1.5 } } }, /pricePerMessage must be a non-negative integer/],
    [{ tariffs: { a: { currency: 'EUR', pricePerMessage: 1, timeZone: 'Mars/Olympus' } } }, /not a known time zone/],
    [{ tariffs: { a: { currency: 'EUR', pricePerMessage: 1, windows: [{ from: '25:00', to: '07:00' }] } } }, /from\/to as "HH:MM"/],
    [{ tariffs: { a: { currency: 'EUR', pricePerMessage: 1, accounts: { bob: {} } } } }, /not a sip:, sips: or tel: URI/],
  ])('refuses a bad tariff file with the field named (%#)', (doc, msg) => {
    expect(() => TariffBook.fromObject(doc)).toThrow(TariffFileError);
    expect(() => TariffBook.fromObject(doc)).toThrow(msg);
  });

  it('the shipped default tariff loads', () => {
    const d = TariffBook.fromFile('deploy/tariffs.yaml');
    expect(d.get('im.deferred-retrieval')).toMatchObject({ currency: 'EUR', pricePerMessage: 5, pricePerKiB: 1 });
  });
});
