/**
 * One MSRP transport connection (RFC 4975 §5.4, §7.3): parses the byte stream, routes each frame to the session
 * named by the session-id of its To-Path, binds a session to this connection on its first request, and refuses what
 * must not bind.
 *
 * Binding rules (§5.4, §6.1, §14.1) — the session-id is the only thing that ties a connection to a user's session:
 * - the first request for a session must name it exactly: To-Path = the session's own path (§6.1 comparison, on the
 *   scheme and transport of this very connection, so a TLS session never binds over plain TCP), From-Path ending in
 *   the path the peer gave in SDP;
 * - an unknown session-id, a path that does not match, or another user's session on a connection that carries a live
 *   session of someone else (one not draining after its BYE, `MsrpSession.drain`) is answered **481** and the connection is closed (§7.3.1 "MUST respond with a 481").
 *   The same 481 for all of them, so a guesser cannot tell a right session-id with a wrong From-Path from a wrong
 *   session-id. A connection may carry several sessions of one owner at once, and be reused once its sessions have
 *   ended (§5.4 lets connections be shared; relays and load generators do so);
 * - a session already bound to another connection gets **506** (§10.10) and the connection is closed;
 * - a response on a connection that carries no session is garbage: closed;
 * - an unparseable frame gets 400 and the connection is closed (the stream cannot be resynchronised).
 * These checks run as soon as a request's header section is complete, before its body is buffered (§7.3: the
 * To-Path alone decides; §14.1: the session-id is what a peer must know), so a peer that names no session of ours
 * is refused after its headers and cannot make the connection hold up to a chunk's worth of body first.
 * Every refusal is reported through `onRefused` with the peer and the reason — never the session-id, which is a secret.
 */
import { MsrpFrame, sessionIdOf } from './msrp-frame';
import { MsrpParser, MsrpParserLimits } from './msrp-parser';
import { responseTo, serializeFrame } from './msrp-serializer';
import { parseMsrpUri, sameMsrpUri } from './msrp-uri';
import type { MsrpSession } from './msrp-session';

export interface SessionDirectory {
  /** The session a frame is for; `fromPath` is the sender's path (a listener may create the session then). */
  find(sessionId: string, fromPath?: string): MsrpSession | undefined;
}

/** Why a connection was refused: the status sent (if any) and a reason fit for a log (no session-id in it). */
export interface BindRefusal {
  status: 400 | 481 | 506 | 0;
  reason: string;
  /** The peer, as the adapter named it (e.g. `203.0.113.7:40512`). */
  peer: string;
}

export interface MsrpConnectionEvents {
  /** A session was bound to this connection (the server starts delivering). */
  onBound?(session: MsrpSession): void;
  /** The connection ended; these sessions lost their transport. */
  onLost?(sessions: MsrpSession[]): void;
  /** A request or frame was refused and the connection closed (see the binding rules above). */
  onRefused?(r: BindRefusal): void;
}

/** What this connection is, as far as binding goes. */
export interface MsrpLink {
  /** `msrps` over TLS (or WSS), `msrp` otherwise; when set, only sessions whose own path has this scheme bind here. */
  scheme?: 'msrp' | 'msrps';
  /** The URI transport this connection carries (`tcp`, `ws`); when set, only sessions whose path names it bind here. */
  transport?: string;
  /** The peer, for logs. */
  peer?: string;
}

/** The binding rules' verdict on a request for a session this connection does not carry yet. */
type Admission = { ok: true; session: MsrpSession } | { ok: false; status: 481 | 506; reason: string };

export class MsrpConnection {
  private readonly parser: MsrpParser;
  /** The frame in progress whose header section was screened already (it is screened once). */
  private screened?: MsrpFrame;
  private readonly sessions = new Set<MsrpSession>();
  private ended = false;
  /** A session was bound here once: from then on, responses for unknown sessions are stale, not garbage. */
  private everBound = false;

  constructor(
    private readonly writeBytes: (b: Uint8Array) => void,
    private readonly closeTransport: () => void,
    private readonly directory: SessionDirectory,
    private readonly events: MsrpConnectionEvents = {},
    limits: MsrpParserLimits = {},
    private readonly link: MsrpLink = {},
  ) {
    this.parser = new MsrpParser(limits);
  }

  /** Binds a session we opened ourselves (active side) to this connection. */
  adopt(session: MsrpSession): boolean {
    if (!session.bind((b) => this.write(b))) return false;
    this.sessions.add(session);
    this.everBound = true;
    return true;
  }

  /** Sessions bound to this connection (ended ones leave it when the next frame arrives). */
  get boundSessions(): number {
    return this.sessions.size;
  }

  /** Whether a session was ever bound here (listeners close connections that bind nothing in time). */
  get wasBound(): boolean {
    return this.everBound;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private write(b: Uint8Array): void {
    if (!this.ended) this.writeBytes(b);
  }

  push(chunk: Uint8Array): void {
    if (this.ended) return;
    for (const ev of this.parser.push(chunk)) {
      if (ev.type === 'error') {
        const tid = ev.error.tid;
        if (tid) this.write(new TextEncoder().encode(`MSRP ${tid} 400 Unintelligible\r\nTo-Path: msrp://invalid/x;tcp\r\nFrom-Path: msrp://invalid/x;tcp\r\n-------${tid}$\r\n`));
        this.events.onRefused?.({ status: tid ? 400 : 0, reason: `unparseable frame (${ev.error.message})`, peer: this.link.peer ?? '' });
        this.end();
        return;
      }
      this.dispatch(ev.frame);
      if (this.ended) return;
    }
    // a frame whose headers are in and whose body is still coming: screen it now, before its body is buffered
    const pending = this.parser.pendingHeaders;
    if (pending && pending !== this.screened) {
      this.screened = pending;
      this.screen(pending);
    }
  }

  /** Bytes the parser holds (a frame in progress); 0 once the connection has ended. */
  get bufferedBytes(): number {
    return this.ended ? 0 : this.parser.bufferedBytes;
  }

  /**
   * The binding rules applied to a header section whose body has not arrived: a frame for a session this connection
   * carries waits for its body; anything that would be refused once whole is refused now, and the connection closed.
   */
  private screen(f: MsrpFrame): void {
    const sid = sessionIdOf(f.toPath[0] ?? '');
    for (const s of this.sessions) if (s.id === sid) return;
    for (const s of this.sessions) if (s.isClosed) this.sessions.delete(s);
    if (f.method === undefined) {
      if (!this.everBound) this.refuse(f, 0, 'a response before any request on the connection');
      return;
    }
    const a = this.admit(f, sid);
    if (!a.ok) this.refuse(f, a.status, a.reason);
  }

  /** Answers a request (never a REPORT, §7.1.2) with `status`, reports why, and closes the connection. */
  private refuse(f: MsrpFrame, status: 481 | 506 | 0, reason: string): void {
    if (status && f.method !== undefined && f.method !== 'REPORT') this.write(serializeFrame(responseTo(f, status, [f.toPath[0]])));
    this.events.onRefused?.({ status, reason, peer: this.link.peer ?? '' });
    this.end();
  }

  private dispatch(f: MsrpFrame): void {
    const sid = sessionIdOf(f.toPath[0] ?? '');
    // a session bound to this connection (including one we opened ourselves)
    for (const s of this.sessions) {
      if (s.id !== sid) continue;
      if (s.isClosed) {
        // a late frame for a session that ended on this connection: 481 to a request, the connection stays
        this.sessions.delete(s);
        return f.method !== undefined && f.method !== 'REPORT' ? this.write(serializeFrame(responseTo(f, 481, [f.toPath[0]]))) : undefined;
      }
      return s.receive(f);
    }
    for (const s of this.sessions) if (s.isClosed) this.sessions.delete(s); // ended sessions leave (a reused connection stays small)
    const isRequest = f.method !== undefined;
    if (!isRequest) {
      // a response never binds; on a connection that never carried a session it is garbage
      if (!this.everBound) this.refuse(f, 0, 'a response before any request on the connection');
      return;
    }
    const a = this.admit(f, sid);
    if (!a.ok) return this.refuse(f, a.status, a.reason);
    const session = a.session;
    if (!session.bind((b) => this.write(b))) return this.refuse(f, 506, 'session already bound to another connection');
    this.everBound = true;
    this.sessions.add(session);
    this.events.onBound?.(session);
    session.receive(f);
  }

  /** The binding rules (see the header) for the first request of a session on this connection; binds nothing. */
  private admit(f: MsrpFrame, sid: string | undefined): Admission {
    const session = sid ? this.directory.find(sid, f.fromPath[f.fromPath.length - 1]) : undefined;
    // §7.3.1: "… the receiving device MUST respond with a 481" when the session does not exist
    if (!session || session.isClosed) return { ok: false, status: 481, reason: 'unknown session-id' };
    // §5.4 / §6.1: the To-Path is exactly the session's own URI, carried on the transport that URI names
    const own = parseMsrpUri(session.localPath);
    if (f.toPath.length !== 1 || !sameMsrpUri(f.toPath[0], session.localPath)) return { ok: false, status: 481, reason: 'To-Path does not match the session' };
    if ((this.link.scheme && own?.scheme !== this.link.scheme) || (this.link.transport && own?.transport !== this.link.transport))
      return { ok: false, status: 481, reason: `session offered over another transport than ${this.link.scheme ?? 'msrp'}/${this.link.transport ?? '?'}` };
    // §5.4: the From-Path must end in the path the peer announced in SDP
    if (!sameMsrpUri(f.fromPath[f.fromPath.length - 1] ?? '', session.remotePath)) return { ok: false, status: 481, reason: 'From-Path does not match the path offered in SDP' };
    // one user at a time: a connection carrying someone's live session binds no other user's
    // (a session draining after its BYE sends nothing more here: it does not hold the connection)
    for (const s of this.sessions) if (s.owner !== session.owner && s.isLive) return { ok: false, status: 481, reason: "another user's session on a connection already bound" };
    // §10.10 (506): the session is bound to another connection already
    if (session.bound) return { ok: false, status: 506, reason: 'session already bound to another connection' };
    return { ok: true, session };
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
