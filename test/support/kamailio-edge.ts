/**
 * Kamailio (Debian's package) as the SIP edge in front of im-servers, with the project's deploy/kamailio/kamailio.cfg:
 * a dispatcher list written for the given im-servers, UDP and TCP on one loopback port.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { findBinary, freePort } from '@imc/runtime';

export const KAMAILIO_CFG = join(__dirname, '..', '..', 'deploy', 'kamailio', 'kamailio.cfg');

export function kamailioAvailable(): boolean {
  return !!findBinary('kamailio');
}

export interface KamailioEdge {
  port: number;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Sends OPTIONS over UDP to the edge until it answers (any final response), or throws after `timeoutMs`. */
async function answersOptions(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const local = sock.address().port;
  try {
    for (let i = 0; Date.now() < deadline; i++) {
      const got = new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 200);
        sock.once('message', () => {
          clearTimeout(t);
          resolve(true);
        });
      });
      const req =
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bKprobe${i};rport\r\n` +
        `Max-Forwards: 0\r\nFrom: <sip:probe@localhost>;tag=p${i}\r\nTo: <sip:127.0.0.1:${port}>\r\nCall-ID: probe${i}@edge\r\n` +
        `CSeq: ${i + 1} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
      sock.send(req, port, '127.0.0.1');
      if (await got) return;
    }
    throw new Error(`kamailio did not answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
  } finally {
    sock.close();
  }
}

export async function startKamailioEdge(imServers: { sipUdpPort: number }[], opts: { pingSeconds?: number } = {}): Promise<KamailioEdge> {
  const bin = findBinary('kamailio');
  if (!bin) throw new Error('kamailio is not installed (Debian: apt-get install kamailio)');
  const dir = mkdtempSync(join(tmpdir(), 'imc-edge-'));
  const list = join(dir, 'dispatcher.list');
  writeFileSync(list, imServers.map((s) => `1 sip:127.0.0.1:${s.sipUdpPort}`).join('\n') + '\n');
  const port = await freePort();
  const out: string[] = [];
  const proc = spawn(
    bin,
    ['-DD', '-E', '-f', KAMAILIO_CFG, '-l', `udp:127.0.0.1:${port}`, '-l', `tcp:127.0.0.1:${port}`, '-P', join(dir, 'kamailio.pid'), '-Y', dir],
    { env: { ...process.env, IMC_DS_LIST: list, IMC_DS_PING: String(opts.pingSeconds ?? 1) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (d) => out.push(String(d)));
  proc.stderr!.on('data', (d) => out.push(String(d)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      answersOptions(port, 10000),
      exited.then(() => {
        throw new Error(`kamailio exited: ${out.join('').slice(-2000)}`);
      }),
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, proc, output: () => out.join('').slice(-5000), stop };
}
