/**
 * The browser client in headless Chromium: log in with SIP credentials (REGISTER over SIP-over-WebSocket), see
 * the waiting count from message-summary, retrieve over SIP + MSRP-over-WebSocket, read the messages on the page;
 * the account is charged the tariff price per message; the price of what waits is shown beside the Retrieve button
 * (advice of charge). Saves a screenshot as a test artifact.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildWebClient } from '../../apps/web-client/src/build';
import { admin } from '../support/enabler-harness';
import { deposit, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';

const ROOT = join(__dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const haveChromium = existsSync('/usr/bin/chromium');

(haveChromium ? describe : describe.skip)('browser client (headless Chromium)', () => {
  let s: Stack;
  beforeAll(async () => {
    const dir = await buildWebClient(join(ARTIFACTS, 'web-client'), false);
    // the im-server serves the built client at /client (WEB_CLIENT_DIR), with /v1/me/balance beside it
    s = await startStack({ im: { WEB_CLIENT_DIR: dir } });
  });
  afterAll(async () => {
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
      await page.goto(`http://127.0.0.1:${s.im.httpPort}/client/?sip=${encodeURIComponent(s.sipWsUrl)}`);

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
      await page.waitForFunction(() => document.getElementById('balance')?.textContent === '1.00 EUR');
      // advice of charge beside the Retrieve button (GET /v1/me/deferred): two messages at 6 cents, both covered
      await page.waitForFunction(() => document.getElementById('quote')?.textContent === 'price 0.12 EUR — your credit covers them all');
      expect(await page.isVisible('#quote')).toBe(true);
      expect((await admin(s.enabler!.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(bob)}`)).json).toMatchObject({ balance: 100, reserved: 0 });

      await page.click('#retrieve');
      await page.waitForFunction(() => document.querySelectorAll('#messages .message').length === 2);
      const texts = await page.locator('#messages .text').allTextContents();
      expect(texts).toEqual(['Lunch at noon?', 'The report is ready.']);
      expect(await page.locator('#messages .meta').first().textContent()).toMatch(/^sip:alice@example\.com · /);
      await page.waitForFunction(() => /2 message\(s\) received/.test(document.getElementById('status')?.textContent ?? ''));
      // the server's NOTIFY after the deletions brings the waiting count to 0
      await page.waitForFunction(() => document.getElementById('waiting')?.textContent === '0');
      await page.waitForFunction(() => document.getElementById('quote')?.textContent === '');

      // the balance effect, on the page and in the account: two messages at the tariff's minimum price (6 cents)
      await page.waitForFunction(() => document.getElementById('balance')?.textContent === '0.88 EUR');
      const acct = await admin(s.enabler!.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(bob)}`);
      const user = bob.slice(4, bob.indexOf('@'));
      const me = (pw: string) => fetch(`http://127.0.0.1:${s.im.httpPort}/v1/me/balance`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` } });
      expect((await me('wrong')).status).toBe(401);
      expect(await (await me('secret-pw')).json()).toMatchObject({ aor: bob, balance: 88, currency: 'EUR' });
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
