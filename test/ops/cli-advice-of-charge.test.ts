/**
 * `imc retrieve` tells the price first (advice of charge, GET /v1/me/deferred) and asks before going on: "no" leaves
 * everything stored and uncharged, "yes" or `--yes` retrieves; with stdin not a terminal there is no question.
 * Against a real stack (enabler, im-server, Redis, NATS); the tariff is 5 cents a message + 1 per started KiB.
 */
import { run } from '../../apps/cli/src/main';
import { account, deposit, pendingCount, provision, Stack, startStackForCli, uniqueUser } from '../support/stack-harness';

describe('imc retrieve: advice of charge before', () => {
  let s: Stack;
  const lines: string[] = [];
  const questions: string[] = [];
  const imc = async (answer: string | undefined, ...argv: string[]) => {
    lines.length = 0;
    questions.length = 0;
    const ask =
      answer === undefined
        ? undefined
        : async (q: string) => {
            questions.push(q);
            return answer;
          };
    const code = await run(argv, (l) => lines.push(l), ask);
    return { code, out: lines.join('\n') };
  };
  beforeAll(async () => {
    s = await startStackForCli();
  });
  afterAll(() => s.close());

  it('shows the price, and "no" retrieves nothing and charges nothing', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'one');
    await deposit(s, bob, 'sip:alice@example.com', 'two');
    const r = await imc('n', 'retrieve', bob, '--password', 'secret-pw');
    expect(r.code).toBe(0);
    expect(lines[0]).toBe('2 message(s) waiting (6 bytes): price 0.12 EUR; balance 1.00 EUR; your credit covers all of them');
    expect(questions).toEqual(['retrieve now? [y/N] ']);
    expect(lines[1]).toBe('not retrieved');
    expect(await pendingCount(s, bob)).toBe(2);
    expect(await account(s, bob)).toMatchObject({ balance: 100, reserved: 0 });
  });

  it('"yes" retrieves; the question says how many the credit covers', async () => {
    const bob = await provision(s, uniqueUser('bob'), 10);
    await deposit(s, bob, 'sip:alice@example.com', 'first');
    await deposit(s, bob, 'sip:alice@example.com', 'second');
    const r = await imc('y', 'retrieve', bob, '--password', 'secret-pw', '--expect', '1');
    expect(lines[0]).toBe('2 message(s) waiting (11 bytes): price 0.12 EUR; balance 0.10 EUR; your credit covers 1 of them');
    expect(questions).toEqual(['retrieve (1 of 2 affordable) now? [y/N] ']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/sip:alice@example.com: first/);
    expect(r.out).toMatch(/charged 0\.06 EUR; balance now 0\.04 EUR/);
  });

  it('--yes, --json and a stdin that is no terminal go on without asking', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'hi');
    const never = 'the question must not be asked';
    expect((await imc(never, 'retrieve', bob, '--password', 'secret-pw', '--yes', '--expect', '1')).out).toMatch(/alice@example.com: hi/);
    expect(questions).toEqual([]);
    await deposit(s, bob, 'sip:alice@example.com', 'again');
    const j = await imc(never, 'retrieve', bob, '--password', 'secret-pw', '--json', '--expect', '1');
    expect(questions).toEqual([]);
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ status: 200, quote: { count: 1, price: 6, affordable: 1 }, charged: 6 });
    expect(j.code).toBe(0);
    await deposit(s, bob, 'sip:alice@example.com', 'third');
    expect((await imc(undefined, 'retrieve', bob, '--password', 'secret-pw', '--expect', '1')).out).toMatch(/alice@example.com: third/);
  });

  it('prints the price the server gave for the granted messages (AoC-S) and the cost and balance after (AoC-E)', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await deposit(s, bob, 'sip:alice@example.com', 'one');
    await deposit(s, bob, 'sip:alice@example.com', 'two');
    const r = await imc(undefined, 'retrieve', bob, '--password', 'secret-pw', '--expect', '2');
    expect(r.code).toBe(0);
    expect(lines).toContain('price of the messages granted: 0.12 EUR');
    expect(lines).toContain('cost 0.12 EUR, balance after 0.88 EUR');
    expect(lines.indexOf('price of the messages granted: 0.12 EUR')).toBeLessThan(lines.indexOf('2 message(s) received'));
    expect(await account(s, bob)).toMatchObject({ balance: 88, reserved: 0 });
  });

  it('prints a stored receipt as the status of the message it names, free', async () => {
    const dora = await provision(s, uniqueUser('dora'), 100);
    const xml = '<?xml version="1.0" encoding="UTF-8"?><imdn xmlns="urn:ietf:params:xml:ns:imdn"><message-id>m-77</message-id><datetime>2026-12-01T10:00:00.000Z</datetime><recipient-uri>sip:bob@example.com</recipient-uri><delivery-notification><status><delivered/></status></delivery-notification></imdn>';
    const stored = await s.im.store.deposit(dora, { from: 'sip:bob@example.com', to: dora, contentType: 'message/imdn+xml', body: Buffer.from(xml), receipt: true });
    expect(stored.ok).toBe(true);
    const r = await imc(undefined, 'retrieve', dora, '--password', 'secret-pw', '--expect', '1');
    expect(r.code).toBe(0);
    expect(lines[0]).toBe('0 message(s) waiting (0 bytes) and 1 receipt(s), free; nothing to pay');
    expect(lines).toContain('  [2026-12-01T10:00:00.000Z] your message m-77 to sip:bob@example.com: delivered');
    expect(await account(s, dora)).toMatchObject({ balance: 100, reserved: 0 });
  });

  it('a wrong password is told before anything else', async () => {
    const bob = await provision(s, uniqueUser('bob'), 100);
    await expect(imc('y', 'retrieve', bob, '--password', 'wrong-pw')).rejects.toThrow(/wrong username or password/);
    expect(questions).toEqual([]);
  });
});
