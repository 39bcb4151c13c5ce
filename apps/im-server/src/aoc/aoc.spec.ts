import { formatAocMoney, parseAoc, readSipBody } from '@imc/retrieval-client';
import { AOC_NS, buildAocE, buildAocS, minorUnitMultiplier } from './aoc-xml';
import { acceptsAoc, buildMultipartMixed, sdpWithAoc } from './multipart-body';
import { SessionAoc } from './session-aoc';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\na=path:msrp://127.0.0.1:2855/abc;tcp\r\n';
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('AoC XML (TS 24.647)', () => {
  it('AoC-S: the granted price as a flat rate, integer currency-amount with the currency minor-unit multiplier', () => {
    const xml = buildAocS({ currency: 'EUR', amount: 12 });
    expect(xml).toContain(`<aoc xmlns="${AOC_NS}"><aoc-s><charged-items><basic><flat-rate>`);
    expect(xml).toContain('<currency-id>EUR</currency-id><currency-amount>12</currency-amount><multiplier>one-hundredth</multiplier>');
    expect(parseAoc(xml)).toEqual({ kind: 'aoc-s', amount: { currency: 'EUR', units: 12, exponent: -2 }, free: false });
    expect(parseAoc(buildAocS({ currency: 'EUR', amount: 0 }))).toMatchObject({ kind: 'aoc-s', free: true, amount: undefined });
  });

  it('AoC-E: the recorded charges and the balance after; not-available while a charge is unconfirmed', () => {
    const e = parseAoc(buildAocE({ currency: 'EUR', cost: 18, balanceAfter: 82 }))!;
    expect(e).toEqual({ kind: 'aoc-e', free: false, amount: { currency: 'EUR', units: 18, exponent: -2 }, balanceAfter: { currency: 'EUR', units: 82, exponent: -2 } });
    expect(`cost ${formatAocMoney(e.amount!)}, balance after ${formatAocMoney(e.balanceAfter!)}`).toBe('cost 0.18 EUR, balance after 0.82 EUR');
    const unknown = buildAocE({ currency: 'EUR', cost: undefined });
    expect(unknown).toContain('<recorded-charges><not-available/></recorded-charges>');
    expect(parseAoc(unknown)).toEqual({ kind: 'aoc-e', free: false, amount: undefined });
  });

  it('currencies whose minor unit is not the hundredth', () => {
    expect(minorUnitMultiplier('JPY')).toBe('one');
    expect(minorUnitMultiplier('KWD')).toBe('one-thousandth');
    expect(formatAocMoney(parseAoc(buildAocS({ currency: 'KWD', amount: 1005 }))!.amount!)).toBe('1.005 KWD');
    expect(formatAocMoney(parseAoc(buildAocS({ currency: 'JPY', amount: 30 }))!.amount!)).toBe('30 JPY');
  });

  it('refuses what is not money, naming the field', () => {
    expect(() => buildAocS({ currency: 'EUR', amount: 1.5 })).toThrow(/^amount: must be a non-negative integer/);
    expect(() => buildAocS({ currency: 'EUR', amount: -1 })).toThrow(/^amount:/);
    expect(() => buildAocE({ currency: 'euro', cost: 1 })).toThrow(/^currency: must be an ISO 4217 code/);
    expect(() => buildAocE({ currency: 'EUR', cost: 1, balanceAfter: Number.MAX_SAFE_INTEGER + 2 })).toThrow(/^balanceAfter:/);
  });
});

describe('multipart/mixed bodies (RFC 5621)', () => {
  it('the SDP and the AoC-S in one body; the SDP part comes back byte for byte', () => {
    const { contentType, body, headers } = sdpWithAoc(SDP, buildAocS({ currency: 'EUR', amount: 6 }));
    expect(contentType).toMatch(/^multipart\/mixed;boundary=imc-[0-9a-f]{24}$/);
    expect(headers).toEqual([['Content-Disposition', 'session']]);
    expect(text(body)).toContain('Content-Type: application/vnd.etsi.aoc+xml\r\nContent-Disposition: signal;handling=optional\r\n\r\n<?xml');
    const read = readSipBody(text(body), contentType);
    expect(read.sdp).toBe(SDP);
    expect(read.aoc).toMatchObject({ kind: 'aoc-s', amount: { units: 6, exponent: -2 } });
    // a client that has only the body (sip.js hands the SDP handler the content alone) finds the boundary in it
    expect(readSipBody(text(body), undefined).sdp).toBe(SDP);
  });

  it('an SDP-only body is read as before', () => {
    expect(readSipBody(SDP, 'application/sdp')).toEqual({ sdp: SDP });
    expect(readSipBody(SDP, undefined)).toEqual({ sdp: SDP });
  });

  it('refuses a boundary that occurs in a part, or is not an RFC 2046 boundary', () => {
    expect(() => buildMultipartMixed([{ contentType: 'text/plain', body: 'x\r\n--b1\r\n' }], 'b1')).toThrow(/^boundary: occurs inside a part/);
    expect(() => buildMultipartMixed([{ contentType: 'text/plain', body: 'x' }], 'has space')).toThrow(/^boundary: not an RFC 2046 boundary/);
    expect(() => buildMultipartMixed([])).toThrow(/^parts:/);
  });

  it('Accept: lists the AoC type in any position, case, with parameters, over several header lines', () => {
    expect(acceptsAoc(['application/sdp, application/vnd.etsi.aoc+xml'])).toBe(true);
    expect(acceptsAoc(['application/sdp', 'Application/VND.ETSI.AOC+XML;q=0.5'])).toBe(true);
    expect(acceptsAoc(['application/sdp'])).toBe(false);
    expect(acceptsAoc([])).toBe(false);
    expect(acceptsAoc(['application/vnd.etsi.aoc+xml-not'])).toBe(false);
  });
});

describe('SessionAoc (one session)', () => {
  const reserve = { requestId: 'r1', result: 'SUCCESS' as const, resultCode: 2001, currency: 'EUR', reservedAmount: 18, grantedItems: ['a', 'b', 'c'] };
  const debit = (amount: number) => ({ kind: 'answer' as const, res: { requestId: 'd', result: 'SUCCESS' as const, resultCode: 2001, currency: 'EUR', debitedAmount: amount } });

  it('without AoC in Accept: the 200 OK stays SDP only and there is no AoC-E', () => {
    const a = SessionAoc.forInvite(['application/sdp']);
    expect(a.answerBody(SDP, reserve)).toEqual({ contentType: 'application/sdp', body: new TextEncoder().encode(SDP) });
    a.debited(debit(6));
    expect(a.endBody(94)).toBeUndefined();
  });

  it('with AoC: AoC-S priced from the reservation, AoC-E summing the debits (a message charged before adds 0)', () => {
    const a = SessionAoc.forInvite(['application/sdp, application/vnd.etsi.aoc+xml']);
    const ok = a.answerBody(SDP, reserve);
    expect(readSipBody(text(ok.body), ok.contentType).aoc?.amount).toEqual({ currency: 'EUR', units: 18, exponent: -2 });
    a.debited(debit(6));
    a.debited(debit(0));
    a.debited(debit(6));
    a.refunded({ kind: 'answer', res: { requestId: 'f', result: 'SUCCESS', resultCode: 2001, refundedAmount: 6 } });
    expect(a.total).toBe(6);
    expect(parseAoc(text(a.endBody(94)!.body))).toMatchObject({ kind: 'aoc-e', amount: { units: 6 }, balanceAfter: { units: 94 } });
  });

  it('a queued or refused debit makes the cost unknown (not-available), never a short figure', () => {
    const a = SessionAoc.forInvite(['application/vnd.etsi.aoc+xml']);
    a.answerBody(SDP, reserve);
    a.debited(debit(6));
    a.debited({ kind: 'queued' });
    expect(a.total).toBeUndefined();
    expect(text(a.endBody()!.body)).toContain('<not-available/>');
  });
});
