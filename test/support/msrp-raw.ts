/**
 * Raw MSRP over a socket for tests: hand-written frames out, frames parsed as they come back, and the close seen —
 * so a test can tell "answered 481 then closed" from "kept open".
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { MsrpFrame, MsrpParser } from '@imc/msrp';

export interface RawMsrp {
  frames: MsrpFrame[];
  closed: Promise<void>;
  isClosed(): boolean;
  write(text: string): void;
  /** Resolves with the first frame (after those already seen) that `pred` accepts; rejects when the socket closes first. */
  next(pred?: (f: MsrpFrame) => boolean, timeoutMs?: number): Promise<MsrpFrame>;
  end(): void;
}

/** `localAddress` (plain TCP) picks the source: another loopback address, e.g. 127.0.0.2, looks like another peer. */
export function rawMsrp(host: string, port: number, tls: boolean, localAddress?: string): Promise<RawMsrp> {
  return new Promise((resolve, reject) => {
    const sock: Socket = tls ? tlsConnect({ host, port, rejectUnauthorized: false }) : netConnect({ host, port, localAddress });
    const parser = new MsrpParser();
    const frames: MsrpFrame[] = [];
    const waiters: (() => void)[] = [];
    let closed = false;
    const closedP = new Promise<void>((r) => sock.once('close', () => ((closed = true), r(), waiters.splice(0).forEach((w) => w()))));
    sock.on('data', (d: Buffer) => {
      for (const e of parser.push(new Uint8Array(d))) if (e.type === 'frame') frames.push(e.frame);
      waiters.splice(0).forEach((w) => w());
    });
    sock.on('error', () => undefined);
    let seen = 0;
    const raw: RawMsrp = {
      frames,
      closed: closedP,
      isClosed: () => closed,
      write: (t) => sock.write(t),
      end: () => sock.destroy(),
      next: (pred = () => true, timeoutMs = 5000) =>
        new Promise((res, rej) => {
          const timer = setTimeout(() => rej(new Error(`no frame within ${timeoutMs} ms (got ${frames.map((f) => f.status ?? f.method).join(',')})`)), timeoutMs);
          const check = () => {
            while (seen < frames.length) {
              const f = frames[seen++];
              if (pred(f)) {
                clearTimeout(timer);
                return res(f);
              }
            }
            if (closed) {
              clearTimeout(timer);
              return rej(new Error('closed'));
            }
            waiters.push(check);
          };
          check();
        }),
    };
    sock.once(tls ? 'secureConnect' : 'connect', () => resolve(raw));
    sock.once('error', reject);
  });
}

/** A bodiless bind SEND (RFC 4975 §5.4) with the given paths. */
export function bindSend(toPath: string, fromPath: string, tid = `t${Math.floor(Math.random() * 1e9)}x`): string {
  return `MSRP ${tid} SEND\r\nTo-Path: ${toPath}\r\nFrom-Path: ${fromPath}\r\nMessage-ID: bind${tid}\r\nByte-Range: 1-0/0\r\n-------${tid}$\r\n`;
}

/** The 200 a receiver sends for a SEND (§7.2). */
export function okFor(f: MsrpFrame): string {
  return `MSRP ${f.tid} 200 OK\r\nTo-Path: ${f.fromPath[0]}\r\nFrom-Path: ${f.toPath[0]}\r\n-------${f.tid}$\r\n`;
}

/** A self-signed certificate made with openssl for the duration of a test (CN=localhost). */
export function selfSignedCert(): { cert: string; key: string; certFile: string; keyFile: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'imc-msrps-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
