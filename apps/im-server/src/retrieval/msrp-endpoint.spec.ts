import { MsrpMedia, parseMsrpUri } from '@imc/msrp';
import { planMsrpAnswer } from './msrp-endpoint';

const media = (proto: MsrpMedia['proto'], path: string, setup: MsrpMedia['setup'] = 'active'): MsrpMedia => ({ port: 9, proto, path: [path], acceptTypes: ['message/cpim'], acceptWrappedTypes: [], setup });
const listeners = { tcp: 2855, ws: 2856, tls: 2857 };

/** The TLS answer (msrps path, fingerprint) needs a real certificate: test/e2e/retrieval-msrps.test.ts covers it. */
describe('planMsrpAnswer: the transport of the answer follows the offer (RFC 3264 §6, RFC 4975 §14)', () => {
  it.each([
    ['TCP/MSRP', 'msrp://ue.example:7/a;tcp', 'TCP/MSRP', /^msrp:\/\/im\.example:2855\/[A-Za-z0-9]{22};tcp$/, 2855],
    ['TCP/WS/MSRP', 'msrp://x.invalid:9/a;ws', 'TCP/WS/MSRP', /^msrp:\/\/im\.example:2856\/[A-Za-z0-9]{22};ws$/, 2856],
  ] as const)('%s → %s on its listener, with a fresh 128-bit session-id', (proto, path, answer, ours, port) => {
    const p = planMsrpAnswer(media(proto, path), listeners, { advertisedHost: 'im.example' });
    expect(p).toMatchObject({ ok: true, proto: answer, port });
    if (!p.ok) return;
    expect(p.localPath).toMatch(ours);
    const q = planMsrpAnswer(media(proto, path), listeners, { advertisedHost: 'im.example' });
    expect(q.ok && parseMsrpUri(q.localPath)?.sessionId).not.toBe(parseMsrpUri(p.localPath)?.sessionId);
  });

  it.each([
    ['a TLS offer when no certificate is configured', media('TCP/TLS/MSRP', 'msrps://ue.example:7/a;tcp'), {}, /MSRP over TLS is not enabled/],
    ['a plain offer when TLS is required', media('TCP/MSRP', 'msrp://ue.example:7/a;tcp'), { msrpTls: { cert: 'x', require: true } }, /MSRP over TLS is required/],
    ['TLS with an msrp: path', media('TCP/TLS/MSRP', 'msrp://ue.example:7/a;tcp'), { msrpTls: { cert: 'x', require: false } }, /needs an msrps: a=path/],
    ['TCP with an msrps: path', media('TCP/MSRP', 'msrps://ue.example:7/a;tcp'), {}, /needs an msrp: a=path/],
  ])('%s is refused (488) with a reason', (_n, m, tls, reason) => {
    const p = planMsrpAnswer(m, listeners, { advertisedHost: 'im.example', ...tls });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.reason).toMatch(reason);
  });

  it('when TLS is required a plaintext WebSocket offer is refused; a secure one (TLS ended at a proxy) is answered', () => {
    const required = { advertisedHost: 'im.example', msrpTls: { cert: 'x', require: true } };
    const ws = planMsrpAnswer(media('TCP/WS/MSRP', 'msrp://x.invalid:9/a;ws'), listeners, required);
    expect(ws.ok).toBe(false);
    if (!ws.ok) expect(ws.reason).toMatch(/MSRP over TLS is required/);
    expect(planMsrpAnswer(media('TCP/WSS/MSRP', 'msrps://x.invalid:9/a;ws'), listeners, required).ok).toBe(true);
    expect(planMsrpAnswer(media('TCP/WS/MSRP', 'msrp://x.invalid:9/a;ws'), listeners, { advertisedHost: 'im.example', msrpTls: { cert: 'x', require: false } }).ok).toBe(true);
  });
});
