/**
 * SIP over TLS (RFC 3261 §26.2) and secure WebSocket (RFC 7118 `wss`), when a certificate is configured.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { WebSocket } from 'ws';
import { freePort, findBinary } from '@imc/runtime';
import { startImServer } from '../../apps/im-server/src/bootstrap';
import { imEnv } from '../support/stack-harness';
import { testNamespace } from '../support/enabler-harness';

const options = (transport: string) =>
  `OPTIONS sip:deferred@example.com SIP/2.0\r\nVia: SIP/2.0/${transport} 127.0.0.1:9;branch=z9hG4bK${Math.random().toString(36).slice(2)}\r\nFrom: <sip:x@example.com>;tag=1\r\nTo: <sip:deferred@example.com>\r\nCall-ID: ${Math.random()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

(findBinary('openssl') ? describe : describe.skip)('SIP over TLS and WSS', () => {
  it('answers OPTIONS over TLS and over WSS with the configured certificate; a half configuration is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imc-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const ns = testNamespace();
      const [tlsPort, wssPort] = await Promise.all([freePort(), freePort()]);
      const base = await imEnv(ns);
      await expect(startImServer({ ...base, SIP_TLS_CERT: join(dir, 'cert.pem') })).rejects.toThrow(/SIP_TLS_KEY must be set together/);
      const im = await startImServer({ ...base, SIP_TLS_CERT: join(dir, 'cert.pem'), SIP_TLS_KEY: join(dir, 'key.pem'), SIP_TLS_PORT: String(tlsPort), SIP_WSS_PORT: String(wssPort) });
      try {
        expect(im.sipTlsPort).toBe(tlsPort);
        const overTls = await new Promise<string>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port: tlsPort, rejectUnauthorized: false }, () => s.write(options('TLS')));
          s.on('data', (d) => {
            resolve(d.toString());
            s.end();
          });
          s.on('error', reject);
        });
        expect(overTls).toMatch(/^SIP\/2.0 200 OK/);
        const overWss = await new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(`wss://127.0.0.1:${wssPort}`, 'sip', { rejectUnauthorized: false });
          ws.on('open', () => ws.send(options('WSS')));
          ws.on('message', (d) => {
            resolve(d.toString());
            ws.close();
          });
          ws.on('error', reject);
        });
        expect(overWss).toMatch(/^SIP\/2.0 200 OK/);
      } finally {
        await im.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
