/**
 * Anonymous peers against the real im-server's MSRP listeners (RFC 4975 §5.4, §7.3, §14.1): a first request is
 * checked as soon as its headers are in, so a SEND for an unknown session that announces a huge body is answered 481
 * and closed without its body ever being sent; and only MSRP_MAX_UNBOUND_PER_SOURCE connections per source address
 * and MSRP_MAX_UNBOUND in total may be open without a bound session (TCP and WebSocket share the allowance) — the
 * next one is closed at once. A connection that is refused gives its slot back as it is refused.
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { MsrpFrame, MsrpParser } from '@imc/msrp';
import { rawMsrp, RawMsrp } from '../support/msrp-raw';
import { Stack, startStack } from '../support/stack-harness';

/** The header section of a SEND for a session that does not exist, announcing `total` bytes; no body, no end-line. */
function unknownSendHeaders(port: number, transport: 'tcp' | 'ws', total = 64 * 1024 * 1024): string {
  const tid = randomBytes(6).toString('hex');
  return (
    `MSRP ${tid} SEND\r\nTo-Path: msrp://127.0.0.1:${port}/${randomBytes(16).toString('base64url')};${transport}\r\n` +
    `From-Path: msrp://client.invalid:9/${randomBytes(6).toString('hex')};${transport}\r\nMessage-ID: m${tid}\r\n` +
    `Byte-Range: 1-*/${total}\r\nContent-Type: text/plain\r\n\r\n`
  );
}

/** Sends the headers of an unknown-session SEND and expects 481 then the close (which also frees the slot). */
async function refused(c: RawMsrp, port: number): Promise<void> {
  c.write(unknownSendHeaders(port, 'tcp'));
  expect((await c.next()).status).toBe(481);
  await c.closed;
}

/** A WebSocket MSRP client (RFC 7977, subprotocol msrp) that collects the frames it receives and sees the close. */
async function wsClient(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, 'msrp');
  const parser = new MsrpParser();
  const frames: MsrpFrame[] = [];
  let onFrame: (() => void) | undefined;
  ws.on('message', (d: Buffer) => {
    for (const e of parser.push(new Uint8Array(d))) if (e.type === 'frame') frames.push(e.frame);
    onFrame?.();
  });
  ws.on('error', () => undefined);
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const firstFrame = () => new Promise<MsrpFrame>((r) => (frames.length ? r(frames[0]) : (onFrame = () => r(frames[0]))));
  return { ws, frames, closed, firstFrame };
}

describe('MSRP listeners before a session is bound', () => {
  let s: Stack;

  beforeAll(async () => {
    s = await startStack({ withEnabler: false, im: { MSRP_MAX_UNBOUND_PER_SOURCE: '2', MSRP_MAX_UNBOUND: '3', MSRP_BIND_TIMEOUT_MS: '30000' } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('an unknown-session SEND announcing 64 MiB gets 481 and the close right after its headers, its body never sent', async () => {
    const c = await rawMsrp('127.0.0.1', s.im.msrpTcpPort, false);
    c.write(unknownSendHeaders(s.im.msrpTcpPort, 'tcp'));
    const answer = await c.next();
    expect(answer.status).toBe(481);
    await c.closed;
    expect(c.frames).toHaveLength(1);
  });

  it('over WebSocket too, and a third unbound WebSocket connection from one source is closed at once', async () => {
    const port = s.im.msrpWsPort;
    const a = await wsClient(port);
    const b = await wsClient(port);
    const over = await wsClient(port); // upgraded, then closed by the listener: its source has 2 unbound connections
    await over.closed;
    expect(over.frames).toEqual([]);
    for (const c of [a, b]) {
      c.ws.send(unknownSendHeaders(port, 'ws'));
      expect((await c.firstFrame()).status).toBe(481);
      await c.closed;
    }
  });

  it('TCP: per source, the connection over MSRP_MAX_UNBOUND_PER_SOURCE is closed; a refused one frees its slot; the total holds across sources', async () => {
    const port = s.im.msrpTcpPort;
    const first = await rawMsrp('127.0.0.1', port, false);
    const second = await rawMsrp('127.0.0.1', port, false);
    const third = await rawMsrp('127.0.0.1', port, false);
    await third.closed; // closed without a word
    expect(third.frames).toEqual([]);
    expect(first.isClosed() || second.isClosed()).toBe(false);

    // the first is still served (its SEND is answered), and its refusal gives the slot back to a new connection
    await refused(first, port);
    const fourth = await rawMsrp('127.0.0.1', port, false);

    // MSRP_MAX_UNBOUND=3: second and fourth hold two; one more from another source fits, a fourth does not
    const other = await rawMsrp('127.0.0.1', port, false, '127.0.0.2');
    const beyond = await rawMsrp('127.0.0.1', port, false, '127.0.0.3');
    await beyond.closed;
    expect(beyond.frames).toEqual([]);

    for (const c of [second, fourth, other]) await refused(c, port);
  });
});
