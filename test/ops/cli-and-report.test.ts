/**
 * Billing staff and operators: the imc CLI against running services, and the billing report (JSON, CSV, HTML)
 * checked figure by figure against the CDRs and balances after real traffic — top-ups, retrievals, an expired
 * reservation, a refund — with the HTML page rendered in headless Chromium.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../apps/cli/src/main';
import { admin, ch2ClientFor, common, waitFor } from '../support/enabler-harness';
import { deposit, imAdmin, provision, Stack, startStackForCli, uniqueUser } from '../support/stack-harness';

const ROOT = join(__dirname, '..', '..');

describe('imc CLI and the billing report', () => {
  let s: Stack;
  const lines: string[] = [];
  const imc = async (...argv: string[]) => {
    lines.length = 0;
    const code = await run(argv, (l) => lines.push(l));
    return { code, out: lines.join('\n') };
  };
  beforeAll(async () => {
    s = await startStackForCli();
  });
  afterAll(() => s.close());

  it('operator commands: account create/show/top-up/suspend, user add, deposit, with --json', async () => {
    const sub = `sip:${uniqueUser('op')}@example.com`;
    expect((await imc('account', 'create', sub, '--balance', '250', '--json')).code).toBe(0);
    expect(JSON.parse(lines[0])).toMatchObject({ subscriber: sub, balance: 250, currency: 'EUR', state: 'active' });
    await imc('account', 'top-up', sub, '--amount', '50');
    expect(lines[0]).toBe(`${sub}  active  balance 3.00 EUR  reserved 0.00 EUR  available 3.00 EUR`);
    await imc('account', 'suspend', sub, '--json');
    expect(JSON.parse(lines[0]).state).toBe('suspended');
    expect((await imc('user', 'add', sub, '--password', 'cli-secret')).out).toMatch(/^created sip:op\w+@example.com/);
    expect((await imc('deposit', sub, 'hello from the CLI', '--from', 'sip:ops@example.com', '--json')).code).toBe(0);
    expect(JSON.parse(lines[0]).id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('bad arguments get a clear error', async () => {
    await expect(imc('account', 'create', 'sip:x@example.com')).rejects.toThrow('--balance is required');
    await expect(imc('account', 'create', 'sip:x@example.com', '--balance', '1.5')).rejects.toThrow(/--balance must be a non-negative integer/);
    await expect(imc('account', 'frobnicate', 'sip:x@example.com')).rejects.toThrow(/unknown account command/);
    await expect(imc('report', '--format', 'pdf')).rejects.toThrow(/--format must be csv, json or html/);
    await expect(imc('account', 'show', 'sip:nobody@example.com')).rejects.toThrow(/HTTP 404/);
    await expect(imc('account', 'show', 'sip:x@example.com', '--amount-typo', '5')).rejects.toThrow(/unknown option --amount-typo/);
    await expect(imc('retrieve', 'sip:x@example.com', '--password', 'p', '--ws', '--tcp')).rejects.toThrow(/--ws and --tcp exclude each other/);
    await expect(imc('deposit', 'sip:x@example.com', 'hi', '--password', 'p')).rejects.toThrow(/--from <aor> is required with --password/);
    expect((await imc('retrieve', '--help')).out).toMatch(/INVITE sip:deferred/);
  });

  it('imc deposit --password sends a SIP MESSAGE as the sender; a wrong password is refused', async () => {
    const alice = await provision(s, uniqueUser('alice'), 0, 'alice-pw');
    const carl = await provision(s, uniqueUser('carl'), 100);
    const r = await imc('deposit', carl, 'sent over SIP', '--from', alice, '--password', 'alice-pw', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(lines[0]).status).toBe(202);
    const stored = await imAdmin(s, 'GET', `/v1/users/${encodeURIComponent(carl)}/deferred`);
    expect(JSON.stringify(stored.json)).toContain(alice);
    await expect(imc('deposit', carl, 'x', '--from', alice, '--password', 'wrong')).rejects.toThrow(/MESSAGE refused: (401|403)/);
  });

  it('the imc binary: exit codes and messages on stderr', async () => {
    // the CLI bundled as the build would run it (node, sources compiled by esbuild), spawned as a child process
    const dir = join(ROOT, 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    const bin = join(dir, 'imc.js');
    require('esbuild').buildSync({ entryPoints: [join(ROOT, 'apps/cli/src/main.ts')], bundle: true, platform: 'node', packages: 'external', outfile: bin, tsconfig: join(ROOT, 'tsconfig.json'), footer: { js: 'module.exports.cli();' }, logLevel: 'error' });
    // asynchronous: the services answering it run in this process
    const imcBin = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [bin, ...args], { env: { ...process.env }, cwd: ROOT });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const bad = await imcBin('account', 'create', 'sip:x@example.com', '--balance', 'ten');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^imc: --balance must be a non-negative integer \(minor units\), got "ten"\n\(imc --help for usage\)\n$/);
    const help = await imcBin('report', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--format csv\|json\|html/);
    const shown = await imcBin('account', 'show', 'sip:nobody@example.com');
    expect(shown.status).toBe(1);
    expect(shown.stderr).toMatch(/^imc: account show: HTTP 404/);
    const none = await imcBin();
    expect(none.status).toBe(2);
    expect(none.stdout).toMatch(/^imc — IM Charging command line/);
  });

  it('imc retrieve prints the messages and what was charged', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'see you at noon');
    const r = await imc('retrieve', bob, '--password', 'secret-pw', '--expect', '1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sip:alice@example.com: see you at noon/);
    expect(r.out).toMatch(/charged 0\.06 EUR; balance now 0\.94 EUR/);
  });

  it('the billing report matches the CDRs and balances, in JSON, CSV and HTML', async () => {
    const enabler = s.enabler!;
    const { nc, ch2 } = await ch2ClientFor(s.ns);
    const a = `sip:${uniqueUser('rep')}@example.com`;
    try {
      await admin(enabler.httpPort, 'POST', '/v1/accounts', { subscriber: a, balance: 1000, currency: 'EUR' });
      await admin(enabler.httpPort, 'POST', `/v1/accounts/${encodeURIComponent(a)}/top-ups`, { amount: 200, requestId: `top-${a}` });
      const svc = 'im.deferred-retrieval';
      const r = await ch2.reserve({ ...common(a, svc), items: [{ id: 'm1', octets: 2000 }, { id: 'm2', octets: 10 }, { id: 'm3', octets: 10 }] });
      const d1 = await ch2.debit({ ...common(a, svc), reservationId: r.reservationId!, itemId: 'm1', outcome: 'delivered', octets: 2000 });
      await ch2.debit({ ...common(a, svc), reservationId: r.reservationId!, itemId: 'm2', outcome: 'rejected', octets: 10 });
      await ch2.release({ ...common(a, svc), reservationId: r.reservationId! });
      await ch2.refund({ ...common(a, svc), cdrId: d1.cdrId!, amount: 3 });
      await ch2.reserve({ ...common(a, svc), items: [{ id: 'x', octets: 1 }], validitySeconds: 1 });
      await waitFor(async () => (await enabler.cdrs.list({ subscriber: a, type: 'expire' })).cdrs.length === 1, 'the expiry', 5000, 50);
      const rep = (await admin(enabler.httpPort, 'GET', '/v1/reports/billing?format=json')).json;
      const row = rep.rows.find((x: { subscriber: string; service: string }) => x.subscriber === a && x.service === svc);
      // from the tariff: m1 = 5 + 2 KiB = 7, m2 = m3 = x = 6
      expect(row).toEqual({ subscriber: a, service: svc, currency: 'EUR', messages: 2, octets: 2010, held: 7 + 6 + 6 + 6, debited: 13, refunded: 3, released: 6, expired: 6, toppedUp: 0 });
      expect(rep.rows.find((x: { subscriber: string; service: string }) => x.subscriber === a && x.service === '(account)').toppedUp).toBe(200);
      const rec = rep.reconciliation.find((x: { subscriber: string }) => x.subscriber === a);
      expect(rec).toMatchObject({ initial: 1000, cdrTopUps: 200, cdrRefunds: 3, cdrDebits: 13, expectedBalance: 1190, balance: 1190, status: 'balanced' });
      expect(rep.balanced).toBe(true);
      const cdrSum = (await enabler.cdrs.list({ subscriber: a, limit: 1000 })).cdrs.filter((c) => c.type === 'debit').reduce((x, c) => x + c.amount, 0);
      expect(cdrSum).toBe(row.debited);

      // the same numbers from the JetStream CDR stream once the relay has published every CDR
      const strip = (x: { generatedAt?: string }) => ({ ...x, generatedAt: undefined });
      await waitFor(
        async () => {
          const js = (await admin(enabler.httpPort, 'GET', '/v1/reports/billing?format=json&source=jetstream')).json;
          const st = (await admin(enabler.httpPort, 'GET', '/v1/reports/billing?format=json')).json;
          return JSON.stringify(strip(js)) === JSON.stringify(strip(st));
        },
        'the JetStream report to equal the store report',
        10000,
        100,
      );
      const fromJs = JSON.parse((await imc('report', '--format', 'json', '--source', 'jetstream')).out);
      expect(fromJs.rows.find((x: { subscriber: string; service: string }) => x.subscriber === a && x.service === svc)).toEqual(row);
      expect(fromJs.balanced).toBe(true);
      await expect(imc('report', '--source', 'kafka')).rejects.toThrow(/--source must be store or jetstream/);

      const csv = (await imc('report', '--format', 'csv')).out;
      expect(csv.split('\n')[0]).toBe('subscriber,service,currency,messages,octets,held,debited,refunded,released,expired,toppedUp');
      expect(csv).toContain(`${a},${svc},EUR,2,2010,25,13,3,6,6,0`);
      expect(csv).toMatch(/^reconciliation,ALL,,,,,,,,balanced$/m);

      const dir = join(ROOT, 'test-artifacts');
      mkdirSync(dir, { recursive: true });
      const out = join(dir, 'report.html');
      rmSync(out, { force: true });
      expect((await imc('report', '--format', 'html', '--out', out)).code).toBe(0);
      const html = readFileSync(out, 'utf8');
      expect(html).toContain('<svg');
      expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // renders without network access
      if (existsSync('/usr/bin/chromium')) {
        const { chromium } = await import('playwright-core');
        const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
        try {
          const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
          await page.goto(`file://${out}`);
          expect(await page.locator('#reconciliation').innerText()).toMatch(/^balanced/);
          expect(await page.locator('svg rect').count()).toBeGreaterThan(0);
          await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
        } finally {
          await browser.close();
        }
        expect(existsSync(join(dir, 'report.png'))).toBe(true);
      }
    } finally {
      await nc.close();
    }
  }, 60000);
});
