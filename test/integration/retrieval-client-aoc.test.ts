/**
 * The retrieval client (libs/retrieval-client, sip.js) against a hand-driven UAS that speaks advice of charge
 * (3GPP TS 24.647) the way the im-server's retrieval session does (test/e2e/advice-of-charge.test.ts): the INVITE's
 * Accept lists `application/vnd.etsi.aoc+xml`; the 200 OK is `multipart/mixed` (RFC 5621) with the SDP and the AoC-S; the AoC-E
 * comes in the UAS's BYE, or in its 200 to the client's BYE. Real sockets: SIP over WebSocket (libs/sip-node) and
 * MSRP over WebSocket (libs/msrp-node). An SDP-only 200 OK is covered by test/e2e/retrieval-sipjs.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { MsrpSession } from '@imc/msrp';
import { MsrpWsServer, nodeMsrpClock, nodeRandom } from '@imc/msrp-node';
import { createResponse, Dialog, parseSipMessage, serializeSipMessage, SipRequest } from '@imc/sip';
import { SipFlow, WsSipTransport } from '@imc/sip-node';
import { formatAocMoney } from '@imc/retrieval-client';
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { buildAocE, buildAocS } from '../../apps/im-server/src/aoc/aoc-xml';
import { sdpWithAoc } from '../../apps/im-server/src/aoc/multipart-body';

interface Uas {
  sipUrl: string;
  invites: SipRequest[];
  byes: SipRequest[];
  close(): Promise<void>;
}

/** A UAS for one kind of ending: it sends BYE (with AoC-E) once MSRP is bound, or waits for the client's BYE. */
async function startUas(ending: 'server-bye' | 'client-bye'): Promise<Uas> {
  const invites: SipRequest[] = [];
  const byes: SipRequest[] = [];
  const sid = randomBytes(8).toString('hex');
  let msrpPort = 0;
  let dialog: { d: Dialog; flow: SipFlow } | undefined;
  const sendBye = () => {
    if (!dialog) return;
    const bye = dialog.d.createRequest('BYE', { transport: 'WS', host: '127.0.0.1', port: sip.port });
    bye.add('Content-Type', 'application/vnd.etsi.aoc+xml');
    bye.body = new TextEncoder().encode(buildAocE({ currency: 'EUR', cost: 12, balanceAfter: 88 }));
    dialog.flow.send(serializeSipMessage(bye));
  };
  const msrp = new MsrpWsServer({
    find: (id, fromPath) => {
      if (id !== sid) return undefined;
      const s = new MsrpSession({ localPath: `msrp://127.0.0.1:${msrpPort}/${sid};ws`, remotePath: fromPath ?? '', clock: nodeMsrpClock, random: nodeRandom });
      return s;
    },
  }, { onBound: () => (ending === 'server-bye' ? setImmediate(sendBye) : undefined) });
  msrpPort = await msrp.listen(0, '127.0.0.1');
  const sip = new WsSipTransport();
  await sip.listen(0, '127.0.0.1');
  sip.onMessage((bytes, flow) => {
    const p = parseSipMessage(bytes, { datagram: true });
    if (!p.ok || !(p.message instanceof SipRequest)) return; // responses (to our BYE) need no answer
    const req = p.message;
    if (req.method === 'INVITE') {
      invites.push(req);
      const tag = randomBytes(4).toString('hex');
      dialog = { d: Dialog.fromInvite(req, tag, nodeRandom)!, flow };
      const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message ${msrpPort} TCP/WS/MSRP *\r\na=accept-types:message/cpim\r\na=path:msrp://127.0.0.1:${msrpPort}/${sid};ws\r\na=setup:passive\r\na=sendonly\r\n`;
      const body = sdpWithAoc(sdp, buildAocS({ currency: 'EUR', amount: 12 }));
      flow.send(serializeSipMessage(createResponse(req, 200, 'OK', { toTag: tag, headers: [['Contact', `<sip:deferred@127.0.0.1:${sip.port};transport=ws>`], ...body.headers], body: body.body, contentType: body.contentType })));
    } else if (req.method === 'BYE') {
      byes.push(req);
      const aocE = new TextEncoder().encode(buildAocE({ currency: 'EUR', cost: 6, balanceAfter: 94 }));
      flow.send(serializeSipMessage(createResponse(req, 200, 'OK', { body: aocE, contentType: 'application/vnd.etsi.aoc+xml' })));
    } else if (req.method !== 'ACK') flow.send(serializeSipMessage(createResponse(req, 200, 'OK')));
  });
  return {
    sipUrl: `ws://127.0.0.1:${sip.port}`,
    invites,
    byes,
    close: async () => {
      await sip.close();
      await msrp.close();
    },
  };
}

describe('retrieval client: advice of charge from the server (TS 24.647, RFC 5621)', () => {
  it('asks for AoC, takes the SDP out of a multipart 200 OK, reads the AoC-S and the AoC-E of the server\'s BYE', async () => {
    const uas = await startUas('server-bye');
    try {
      const advice: string[] = [];
      const r = await retrieve({ sipWsUrl: uas.sipUrl, aor: 'sip:bob@example.com', password: 'pw', register: false, timeoutMs: 5000 });
      expect(uas.invites[0].get('accept')).toBe('application/sdp, application/vnd.etsi.aoc+xml');
      expect(r.status).toBe(200);
      expect(r.endedBy).toBe('server');
      expect(formatAocMoney(r.aocS!.amount!)).toBe('0.12 EUR');
      expect(r.aocE).toMatchObject({ kind: 'aoc-e', amount: { units: 12, exponent: -2 }, balanceAfter: { units: 88, exponent: -2 } });
      advice.push(`cost ${formatAocMoney(r.aocE!.amount!)}, balance after ${formatAocMoney(r.aocE!.balanceAfter!)}`);
      expect(advice).toEqual(['cost 0.12 EUR, balance after 0.88 EUR']);
    } finally {
      await uas.close();
    }
  });

  it('reads the AoC-E of the 200 OK to its own BYE', async () => {
    const uas = await startUas('client-bye');
    try {
      const r = await retrieve({ sipWsUrl: uas.sipUrl, aor: 'sip:bob@example.com', password: 'pw', register: false, idleMs: 100, timeoutMs: 5000 });
      expect(r.endedBy).toBe('client');
      expect(uas.byes).toHaveLength(1);
      expect(r.aocS?.kind).toBe('aoc-s');
      expect(r.aocE).toMatchObject({ kind: 'aoc-e', amount: { units: 6 }, balanceAfter: { units: 94 } });
    } finally {
      await uas.close();
    }
  });
});
