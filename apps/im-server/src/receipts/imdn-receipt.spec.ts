import { parseImdn, unwrapCpim } from '@imc/msrp';
import { asksFor, buildReceiptCpim, partitionReceipts, storedReceiptPart } from './imdn-receipt';

describe('IMDN receipts (RFC 5438 §7)', () => {
  const input = {
    status: 'failed' as const,
    originalMessageId: 'orig-1',
    originalDateTime: '2026-12-01T10:00:00.000Z',
    recipient: 'sip:bob@example.com',
    sender: 'sip:alice@example.com',
    messageId: 'imdn-1',
    now: '2026-12-08T10:00:00.000Z',
  };

  it('CPIM from the recipient to the sender, its own Message-ID, no disposition request; the IMDN names the original', () => {
    const c = unwrapCpim(buildReceiptCpim(input))!;
    expect([c.from, c.to, c.dateTime, c.imdnMessageId, c.dispositionNotification]).toEqual([input.recipient, input.sender, input.now, 'imdn-1', undefined]);
    expect(c.headers.map(([k]) => k)).toContain('NS');
    expect(new TextDecoder().decode(c.inner)).toMatch(/^Content-Type: message\/imdn\+xml\r\nContent-Disposition: notification\r\n\r\n<\?xml/);
    expect(parseImdn(new TextDecoder().decode(c.body))).toEqual({ messageId: 'orig-1', dateTime: input.originalDateTime, status: 'failed', recipient: input.recipient });
  });

  it('a stored receipt is delivered as its IMDN part, bare or out of the CPIM it came in; anything else as stored', () => {
    const xml = '<imdn/>';
    const part = (b: Uint8Array | undefined) => b && new TextDecoder().decode(b);
    expect(part(storedReceiptPart('message/imdn+xml', new TextEncoder().encode(xml)))).toBe(`Content-Type: message/imdn+xml\r\nContent-Disposition: notification\r\n\r\n${xml}`);
    expect(part(storedReceiptPart('message/cpim', buildReceiptCpim(input)))).toMatch(/^Content-Type: message\/imdn\+xml\r\nContent-Disposition: notification\r\n\r\n<\?xml/);
    expect(storedReceiptPart('text/plain', new TextEncoder().encode('hi'))).toBeUndefined();
  });

  it('asksFor reads the disposition list in any case and spacing', () => {
    expect(asksFor('positive-delivery, Negative-Delivery ,display', 'negative-delivery')).toBe(true);
    expect(asksFor('positive-delivery', 'negative-delivery')).toBe(false);
    expect(asksFor(undefined, 'display')).toBe(false);
  });

  it('partitionReceipts keeps the order of each side', () => {
    const p = partitionReceipts([{ id: 'a' }, { id: 'r1', receipt: true as const }, { id: 'b' }, { id: 'r2', receipt: true as const }]);
    expect(p.chargeable.map((m) => m.id)).toEqual(['a', 'b']);
    expect(p.receipts.map((m) => m.id)).toEqual(['r1', 'r2']);
  });
});
