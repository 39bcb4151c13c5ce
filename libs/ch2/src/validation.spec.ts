import { checkSubscriber, MAX_SUBSCRIBER_LENGTH, normalizeSubscriber, validateCh2Request } from './validation';

const base = { requestId: 'req-00000001', subscriber: 'sip:Bob@EXAMPLE.com:5060;transport=tcp', service: 'im.deferred-retrieval', timestamp: '2026-11-23T10:00:00Z' };

describe('CH-2 validation', () => {
  it.each([
    ['sip:Bob@EXAMPLE.com:5060;transport=tcp', 'sip:Bob@example.com'],
    ['SIPS:alice@Example.org', 'sips:alice@example.org'],
    ['tel:+1-555-123.4567', 'tel:+15551234567'],
    ['mailto:bob@example.com', undefined],
    ['sip:example.com', undefined],
    ['bob', undefined],
  ])('normalises %s', (input, out) => {
    expect(normalizeSubscriber(input)).toBe(out);
  });

  it('accepts a good reserve and returns the normalised subscriber', () => {
    const v = validateCh2Request('reserve', { ...base, items: [{ id: 'm1', octets: 10 }], validitySeconds: 60 });
    expect(v).toEqual({ ok: true, value: expect.objectContaining({ subscriber: 'sip:Bob@example.com' }) });
  });

  it('accepts a ch2.usage without a service (the monitoring keys name theirs)', () => {
    const { service: _, ...noService } = base;
    expect(validateCh2Request('usage', { ...noService, monitoringKey: 'night', reset: true, rearm: { octets: 1024 } }).ok).toBe(true);
  });

  it.each([
    ['reserve', { ...base, items: [] }, ['items']],
    ['reserve', { ...base, items: [{ id: 'a', octets: -1 }, { id: 'a', octets: 1 }] }, ['items[0].octets', 'items[1].id']],
    ['reserve', { ...base, items: [{ id: 'a', octets: 1 }], validitySeconds: 0 }, ['validitySeconds']],
    ['debit', { ...base, reservationId: 'r', itemId: 'i', outcome: 'maybe', octets: 1.5 }, ['outcome', 'octets']],
    ['direct-debit', { ...base, items: [{ id: 'a', octets: 1 }], outcome: 'sent' }, ['outcome']],
    ['refund', { ...base, cdrId: 'c', amount: 0 }, ['amount']],
    ['balance', { ...base, requestId: 'short', timestamp: 'yesterday', service: 'bad service' }, ['requestId', 'service', 'timestamp']],
    ['price', null, ['(payload)']],
    ['reserve', { ...base, items: [{ id: 'a', octets: 1, ratingGroup: 'bad group' }, { id: 'b', octets: 1, ratingGroup: 7 }] }, ['items[0].ratingGroup', 'items[1].ratingGroup']],
    ['debit', { ...base, reservationId: 'r', itemId: 'i', outcome: 'delivered', octets: 1, ratingGroup: '' }, ['ratingGroup']],
    ['usage', { ...base, monitoringKey: 'bad key', reset: 'yes' }, ['monitoringKey', 'reset']],
    ['usage', { ...base, rearm: { count: 0, minutes: 1 } }, ['rearm.count', 'rearm.minutes', 'rearm']],
    ['usage', { ...base, service: undefined, monitoringKey: 'k', rearm: [] }, ['rearm']],
  ] as const)('%s: names %j', (op, data, fields) => {
    const v = validateCh2Request(op, data);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.details.map((d) => d.split(':')[0])).toEqual(fields);
  });

  describe('one subscriber check for every interface', () => {
    const huge = `sip:${'a'.repeat(10 * 1024)}@example.com`;
    const atLimit = `sip:${'a'.repeat(MAX_SUBSCRIBER_LENGTH - 'sip:@example.com'.length)}@example.com`;

    it('accepts a URI of exactly the limit and refuses one character more', () => {
      expect(atLimit).toHaveLength(MAX_SUBSCRIBER_LENGTH);
      expect(checkSubscriber('subscriber', atLimit)).toEqual({ ok: true, value: atLimit });
      expect(checkSubscriber('subscriber', atLimit.replace('@', 'a@'))).toMatchObject({ ok: false });
      expect(normalizeSubscriber(atLimit.replace('@', 'a@'))).toBeUndefined();
    });

    it('refuses a 10 KB subscriber naming the field and the limit, without echoing the input', () => {
      const r = checkSubscriber('subscriber', huge);
      expect(r).toEqual({ ok: false, problem: `subscriber: must be a sip:, sips: or tel: URI of at most 256 characters (got ${huge.length} characters)` });
    });

    it.each([
      [undefined, {}, 'aor: must be a sip:, sips: or tel: URI of at most 256 characters (got nothing)'],
      ['mailto:bob@example.com', {}, 'aor: must be a sip:, sips: or tel: URI of at most 256 characters (got "mailto:bob@example.com")'],
      ['tel:+15551234', { schemes: ['sip', 'sips'] as const }, 'aor: must be a sip: or sips: URI of at most 256 characters (got "tel:+15551234")'],
      ['sip:bob@elsewhere.org', { domain: 'example.com' }, 'aor: must be a user of example.com (got "sip:bob@elsewhere.org")'],
    ])('refuses %j with %j', (raw, opts, problem) => {
      expect(checkSubscriber('aor', raw, opts)).toEqual({ ok: false, problem });
    });

    it('CH-2 payloads refuse the 10 KB subscriber with the same message', () => {
      const v = validateCh2Request('balance', { ...base, subscriber: huge });
      expect(v).toEqual({ ok: false, details: [`subscriber: must be a sip:, sips: or tel: URI of at most 256 characters (got ${huge.length} characters)`] });
    });
  });
});
