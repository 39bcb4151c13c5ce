import { formatAocMoney, parseAoc, readSipBody, splitMultipart } from './aoc';

describe('parseAoc (TS 24.647 application/vnd.etsi.aoc+xml)', () => {
  it('reads a decimal currency-amount without a multiplier exactly', () => {
    const xml = '<?xml version="1.0"?><aoc xmlns="http://uri.etsi.org/ngn/params/xml/simservs/aoc"><aoc-e><recorded-charges><recorded-currency-units><currency-id>EUR</currency-id><currency-amount>0.30</currency-amount></recorded-currency-units></recorded-charges><billing-id>normal-charging</billing-id></aoc-e></aoc>';
    const a = parseAoc(xml)!;
    expect(a.amount).toEqual({ currency: 'EUR', units: 30, exponent: -2 });
    expect(formatAocMoney(a.amount!)).toBe('0.30 EUR');
  });

  it('tolerates namespace prefixes, attributes and whitespace', () => {
    const xml = '<a:aoc xmlns:a="http://uri.etsi.org/ngn/params/xml/simservs/aoc">\n <a:aoc-s>\n  <a:charged-items><a:basic><a:flat-rate>\n   <a:currency-id>EUR</a:currency-id>\n   <a:currency-amount> 7 </a:currency-amount><a:multiplier>one-tenth</a:multiplier>\n  </a:flat-rate></a:basic></a:charged-items></a:aoc-s></a:aoc>';
    expect(parseAoc(xml)?.amount).toEqual({ currency: 'EUR', units: 7, exponent: -1 });
  });

  it.each([
    ['not AoC', '<imdn xmlns="urn:ietf:params:xml:ns:imdn"/>'],
    ['empty', ''],
  ])('%s → undefined', (_n, xml) => expect(parseAoc(xml)).toBeUndefined());

  it.each([
    ['a negative amount', '-5', 'one'],
    ['a non-number', 'lots', 'one'],
    ['an unknown multiplier', '5', 'a-million'],
    ['an absurdly long amount', '1'.repeat(40), 'one'],
  ])('%s leaves the amount unknown', (_n, amount, mult) => {
    const xml = `<aoc><aoc-s><charged-items><basic><flat-rate><currency-amount>${amount}</currency-amount><multiplier>${mult}</multiplier></flat-rate></basic></charged-items></aoc-s></aoc>`;
    expect(parseAoc(xml)).toEqual({ kind: 'aoc-s', amount: undefined, free: false });
  });

  it('does not read a body over 64 KiB', () => {
    expect(parseAoc(`<aoc><aoc-e>${' '.repeat(70000)}</aoc-e></aoc>`)).toBeUndefined();
  });
});

describe('splitMultipart (RFC 2046 §5.1.1)', () => {
  it('a quoted boundary, a preamble, LF-only line ends and an epilogue', () => {
    const body = 'preamble\n--"x"\n\n--b y\nContent-Type: application/sdp\n\nv=0\n--b y\nContent-Type: text/plain\n\nhello\n--b y--\nepilogue';
    const parts = splitMultipart(body, 'multipart/mixed; boundary="b y"');
    expect(parts.map((p) => [p.contentType, p.body])).toEqual([
      ['application/sdp', 'v=0'],
      ['text/plain', 'hello'],
    ]);
  });

  it('no boundary anywhere → no parts', () => {
    expect(splitMultipart('v=0\r\n', 'multipart/mixed')).toEqual([]);
  });

  it('an unknown body type gives neither SDP nor AoC', () => {
    expect(readSipBody('hello', 'text/plain')).toEqual({});
  });
});

describe('formatAocMoney', () => {
  it.each([
    [{ units: 5, exponent: -2, currency: 'EUR' }, '0.05 EUR'],
    [{ units: 12345, exponent: -2, currency: 'EUR' }, '123.45 EUR'],
    [{ units: 3, exponent: 2 }, '300'],
    [{ units: -7, exponent: -1, currency: 'EUR' }, '-0.7 EUR'],
  ])('%j → %s', (m, s) => expect(formatAocMoney(m)).toBe(s));
});
