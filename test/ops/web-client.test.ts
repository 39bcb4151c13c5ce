/**
 * The browser client in headless Chromium: log in with SIP credentials (REGISTER over SIP-over-WebSocket), see
 * the waiting count from message-summary, retrieve over SIP + MSRP-over-WebSocket, read the messages on the page;
 * the account is charged the tariff price per message. Saves a screenshot as a test artifact.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { join } from 'node:path';
import { buildWebClient } from '../../apps/web-client/src/build';
import { admin } from '../support/enabler-harness';
import { deposit, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';

const ROOT = join(__dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const haveChromium = existsSync('/usr/bin/chromium');

/** Serves the built client the way the im-server does at /client (index.html and client.js). */
function serve(dir: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0].replace(/^\/client\/?/, '') || 'index.html';
    if (!['index.html', 'client.js'].includes(name)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8' });
    res.end(readFileSync(join(dir, name)));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })));
}

(haveChromium ? describe : describe.skip)('browser client (headless Chromium)', () => {
  let s: Stack;
  let web: { server: Server; port: number };
  beforeAll(async () => {
    const dir = await buildWebClient(join(ARTIFACTS, 'web-client'), false);
    [s, web] = await Promise.all([startStack(), serve(dir)]);
  });
  afterAll(async () => {
    web?.server.close();
    await s?.close();
  });

  it('logs in, shows the waiting count, retrieves the deposited messages and they appear on the page', async () => {
    const bob = await provision(s, uniqueUser('web'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'Lunch at noon?');
    await deposit(s, bob, 'sip:carol@example.com', 'The report is ready.');
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
      const errors: string[] = [];
      page.setDefaultTimeout(8000);
      page.on('pageerror', (e) => errors.push(e.message));
      if (process.env.IMC_TEST_LOG) page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
      await page.goto(`http://127.0.0.1:${web.port}/client/?sip=${encodeURIComponent(s.sipWsUrl)}`);

      // a wrong password is refused on the page
      await page.fill('#aor', bob);
      await page.fill('#password', 'wrong');
      await page.click('button[type=submit]');
      await page.waitForSelector('#status.error');
      expect(await page.textContent('#status')).toMatch(/login refused: 401|login refused: 403/);

      await page.fill('#password', 'secret-pw');
      await page.click('button[type=submit]');
      await page.waitForFunction(() => document.getElementById('waiting')?.textContent === '2');
      expect(await page.isVisible('#login')).toBe(false);

      await page.click('#retrieve');
      await page.waitForFunction(() => document.querySelectorAll('#messages .message').length === 2);
      const texts = await page.locator('#messages .text').allTextContents();
      expect(texts).toEqual(['Lunch at noon?', 'The report is ready.']);
      expect(await page.locator('#messages .meta').first().textContent()).toMatch(/^sip:alice@example\.com · /);
      await page.waitForFunction(() => /2 message\(s\) received/.test(document.getElementById('status')?.textContent ?? ''));
      // the server's NOTIFY after the deletions brings the waiting count to 0
      await page.waitForFunction(() => document.getElementById('waiting')?.textContent === '0');

      // the balance effect: two messages of the tariff's minimum price (6 cents each)
      const acct = await admin(s.enabler!.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(bob)}`);
      expect(acct.json.balance).toBe(100 - 2 * 6);
      expect(errors).toEqual([]);

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'client.png') });
      expect(existsSync(join(ARTIFACTS, 'client.png'))).toBe(true);
    } finally {
      await browser.close();
    }
  }, 30000);
});
