/**
 * One MSRP transport connection (RFC 4975 §5.4, §7.3): parses the byte stream, routes each frame to the session
 * named by the session-id of its To-Path, binds sessions to this connection on their first request, and answers
 * what no session can: 481 for an unknown session, 506 for a session already bound to another connection,
 * 400 for an unparseable frame (then the connection is closed: the stream cannot be resynchronised).
 */
import { MsrpFrame, sessionIdOf } from './msrp-frame';
import { MsrpParser, MsrpParserLimits } from './msrp-parser';
import { responseTo, serializeFrame } from './msrp-serializer';
import type { MsrpSession } from './msrp-session';

export interface SessionDirectory {
  /** The session a frame is for; `fromPath` is the sender's path (a listener may create the session then). */
  find(sessionId: string, fromPath?: string): MsrpSession | undefined;
}

export interface MsrpConnectionEvents {
  /** A session was bound to this connection (the server starts delivering). */
  onBound?(session: MsrpSession): void;
  /** The connection ended; these sessions lost their transport. */
  onLost?(sessions: MsrpSession[]): void;
}

export class MsrpConnection {
  private readonly parser: MsrpParser;
  private readonly sessions = new Set<MsrpSession>();
  private ended = false;

  constructor(
    private readonly writeBytes: (b: Uint8Array) => void,
    private readonly closeTransport: () => void,
    private readonly directory: SessionDirectory,
    private readonly events: MsrpConnectionEvents = {},
    limits: MsrpParserLimits = {},
  ) {
    this.parser = new MsrpParser(limits);
  }

  /** Binds a session we opened ourselves (active side) to this connection. */
  adopt(session: MsrpSession): boolean {
    if (!session.bind((b) => this.write(b))) return false;
    this.sessions.add(session);
    return true;
  }

  private write(b: Uint8Array): void {
    if (!this.ended) this.writeBytes(b);
  }

  push(chunk: Uint8Array): void {
    for (const ev of this.parser.push(chunk)) {
      if (ev.type === 'error') {
        const tid = ev.error.tid;
        if (tid) this.write(new TextEncoder().encode(`MSRP ${tid} 400 Unintelligible\r\nTo-Path: msrp://invalid/x;tcp\r\nFrom-Path: msrp://invalid/x;tcp\r\n-------${tid}$\r\n`));
        this.end();
        return;
      }
      this.dispatch(ev.frame);
    }
  }

  private dispatch(f: MsrpFrame): void {
    const sid = sessionIdOf(f.toPath[0] ?? '');
    // sessions bound to this connection first (including ones we opened ourselves), then the directory
    let session: MsrpSession | undefined;
    for (const s of this.sessions) if (s.id === sid) session = s;
    session ??= sid ? this.directory.find(sid, f.fromPath[f.fromPath.length - 1]) : undefined;
    const isRequest = f.method !== undefined;
    const answer = (status: number) => {
      if (isRequest && f.method !== 'REPORT') this.write(serializeFrame(responseTo(f, status, [f.toPath[0]])));
    };
    if (!session || session.isClosed) return answer(481); // §7.3.1 "MUST respond with a 481"
    if (!this.sessions.has(session)) {
      if (!isRequest) return; // a response never binds
      // RFC 6714: match the peer by session-id, not the whole From-Path URI
      if (sessionIdOf(f.fromPath[f.fromPath.length - 1] ?? '') !== sessionIdOf(session.remotePath)) return answer(403);
      if (!session.bind((b) => this.write(b))) return answer(506); // bound to another connection
      this.sessions.add(session);
      this.events.onBound?.(session);
    }
    session.receive(f);
  }

  /** The transport closed (or we close it). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const lost = [...this.sessions];
    this.sessions.clear();
    for (const s of lost) s.close();
    this.closeTransport();
    this.events.onLost?.(lost);
  }
}
