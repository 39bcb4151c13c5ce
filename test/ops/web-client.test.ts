/**
 * The browser client in headless Chromium: log in with SIP credentials (REGISTER over SIP-over-WebSocket), see
 * the waiting count from message-summary, retrieve over SIP + MSRP-over-WebSocket, read the messages on the page;
 * the account is charged the tariff price per message; the price of what waits is shown beside the Retrieve button
 * (advice of charge) and the server's cost and balance after (AoC-E) in the status line once retrieved; a receipt
 * for a message the user sent shows "delivered" beside it. Saves screenshots as test artifacts.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildWebClient } from '../../apps/web-client/src/build';
import { admin } from '../support/enabler-harness';
import { deposit, provision, Stack, startStack, uniqueUser } from '../support/stack-harness';
import { waitFor } from '../support/enabler-harness';
import { SipJsPhone } from '../support/sipjs-phone';
import { retrieve } from '../../apps/cli/src/retrieval-client';

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

  const launch = async () => {
    const { chromium } = await import('playwright-core');
    return chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  };
  /** The page served by the im-server, pointed at its SIP WebSocket; `errors` collects the page's uncaught errors. */
  const openClient = async (browser: Awaited<ReturnType<typeof launch>>, height: number) => {
    const page = await browser.newPage({ viewport: { width: 800, height } });
    const errors: string[] = [];
    page.setDefaultTimeout(8000);
    page.on('pageerror', (e) => errors.push(e.message));
    if (process.env.IMC_TEST_LOG) page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
    await page.goto(`http://127.0.0.1:${s.im.httpPort}/client/?sip=${encodeURIComponent(s.sipWsUrl)}`);
    return { page, errors };
  };

  it('logs in, shows the waiting count, retrieves the deposited messages and they appear on the page', async () => {
    const bob = await provision(s, uniqueUser('web'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'Lunch at noon?');
    await deposit(s, bob, 'sip:carol@example.com', 'The report is ready.');
    const browser = await launch();
    try {
      const { page, errors } = await openClient(browser, 640);

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
      // the server's advice of charge at the end of the session (AoC-E in the 200 to the page's BYE)
      expect(await page.textContent('#status')).toBe('2 message(s) received; cost 0.12 EUR, balance after 0.88 EUR');
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

  it('a receipt for a message the user sent shows "delivered" beside it, and costs nothing', async () => {
    const alice = await provision(s, uniqueUser('web'), 100);
    const bob = await provision(s, uniqueUser('bob'), 100);
    // alice (offline) sends bob a message asking for a delivery notification; bob retrieves it
    const phone = await SipJsPhone.start(s.sipWsUrl, alice, 'secret-pw', false);
    try {
      const cpim = `From: <${alice}>\r\nTo: <${bob}>\r\nDateTime: 2026-12-05T09:30:00.000Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: web-m1\r\nimdn.Disposition-Notification: positive-delivery\r\n\r\nContent-Type: text/plain\r\n\r\nsee you at 6`;
      expect(await phone.send(bob, cpim, 'message/cpim')).toBe(202);
    } finally {
      await phone.stop();
    }
    expect((await retrieve({ sipWsUrl: s.sipWsUrl, aor: bob, password: 'secret-pw', expect: 1, timeoutMs: 10000 })).messages).toHaveLength(1);
    await waitFor(async () => (await s.im.store.pending(alice)).length === 1 || undefined, 'the receipt stored for alice', 8000, 20);

    const browser = await launch();
    try {
      const { page, errors } = await openClient(browser, 480);
      await page.fill('#aor', alice);
      await page.fill('#password', 'secret-pw');
      await page.click('button[type=submit]');
      await page.waitForFunction(() => document.getElementById('waiting')?.textContent === '1');
      await page.waitForFunction(() => document.getElementById('quote')?.textContent === '1 receipt(s), free');
      await page.click('#retrieve');
      await page.waitForSelector('#messages .receipt');
      expect(await page.textContent('#messages .receipt .receipt-status')).toBe('delivered');
      expect(await page.textContent('#messages .receipt .sent')).toMatch(new RegExp(`^your message to ${bob.replace(/[.]/g, '\\.')} · .* \\(web-m1\\)$`));
      await page.waitForFunction(() => document.getElementById('status')?.textContent === '1 receipt(s) received, free');
      await page.waitForFunction(() => document.getElementById('waiting')?.textContent === '0');
      await page.waitForFunction(() => document.getElementById('balance')?.textContent === '1.00 EUR');
      expect((await admin(s.enabler!.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(alice)}`)).json).toMatchObject({ balance: 100, reserved: 0 });
      expect(errors).toEqual([]);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'client-receipt.png') });
    } finally {
      await browser.close();
    }
  }, 30000);
});
