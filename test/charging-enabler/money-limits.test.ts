/**
 * The money limit (libs/ch2 money.ts): balances stay at or below MAX_MONEY = 10^14 − 1 so that every amount the Lua
 * scripts compute, answer (cjson, 14 significant digits) and store (charge records, CDRs) is exact.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { MAX_MONEY, type Ch2Client, type Cdr } from '@imc/ch2';
import type { RunningEnabler } from '../../apps/charging-enabler/src/bootstrap';
import { admin, ch2ClientFor, common, Namespace, startEnabler, subscriber, testNamespace } from '../support/enabler-harness';

const item = (id: string) => ({ id, octets: 100 });

describe('money limit (MAX_MONEY)', () => {
  let dir: string;
  let ns: Namespace;
  let e: RunningEnabler;
  let nc: NatsConnection;
  let ch2: Ch2Client;

  beforeAll(async () => {
    // one item of `im.max` costs exactly MAX_MONEY; `im.five` costs 5
    dir = mkdtempSync(join(tmpdir(), 'imc-money-'));
    const tariffs = join(dir, 'tariffs.json');
    writeFileSync(
      tariffs,
      JSON.stringify({
        tariffs: {
          'im.max': { currency: 'EUR', pricePerMessage: MAX_MONEY, pricePerKiB: 0 },
          'im.five': { currency: 'EUR', pricePerMessage: 5, pricePerKiB: 0 },
        },
      }),
    );
    ns = testNamespace({ TARIFFS_FILE: tariffs });
    e = await startEnabler(ns);
    ({ nc, ch2 } = await ch2ClientFor(ns, { timeoutMs: 10000 }));
  });
  afterAll(async () => {
    await nc.close();
    await e.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const path = (sub: string) => `/v1/accounts/${encodeURIComponent(sub)}`;
  const rawAccount = (sub: string) => e.redis.hgetall(e.ledger.keys.account(sub));
  const topUp = (sub: string, amount: unknown, requestId = randomUUID()) =>
    admin(e.httpPort, 'POST', `${path(sub)}/top-ups`, { amount, requestId });

  async function account(balance: number): Promise<string> {
    const sub = subscriber('money');
    const r = await admin(e.httpPort, 'POST', '/v1/accounts', { subscriber: sub, balance, currency: 'EUR' });
    expect(r.status).toBe(201);
    expect(r.json.balance).toBe(balance);
    return sub;
  }

  async function cdrsOf(sub: string): Promise<Cdr[]> {
    return (await e.cdrs.list({ subscriber: sub, limit: 1000 })).cdrs;
  }

  it('is 10^14 − 1 minor units', () => {
    expect(MAX_MONEY).toBe(99_999_999_999_999);
    expect(MAX_MONEY).toBe(10 ** 14 - 1);
  });

  it('the admin API refuses an opening balance or a top-up above MAX_MONEY and accepts exactly MAX_MONEY', async () => {
    const tooRich = subscriber('money');
    const refused = await admin(e.httpPort, 'POST', '/v1/accounts', { subscriber: tooRich, balance: MAX_MONEY + 1, currency: 'EUR' });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toEqual([`balance: must be a non-negative integer (minor units) of at most ${MAX_MONEY}`]);
    expect((await admin(e.httpPort, 'GET', path(tooRich))).status).toBe(404);
    expect((await admin(e.httpPort, 'POST', '/v1/accounts', { subscriber: tooRich, balance: -1, currency: 'EUR' })).status).toBe(400);

    const full = await account(MAX_MONEY);
    expect((await admin(e.httpPort, 'GET', path(full))).json).toMatchObject({ balance: MAX_MONEY, initial: MAX_MONEY, available: MAX_MONEY });
    expect((await rawAccount(full)).balance).toBe('99999999999999');

    const sub = await account(0);
    const big = await topUp(sub, MAX_MONEY + 1);
    expect(big.status).toBe(400);
    expect(big.json.message).toEqual([`amount: must be a positive integer (minor units) of at most ${MAX_MONEY}`]);
    expect((await topUp(sub, 2 ** 60)).status).toBe(400);
    expect((await topUp(sub, 0)).status).toBe(400);
    const exact = await topUp(sub, MAX_MONEY);
    expect(exact.status).toBe(201);
    expect(exact.json).toMatchObject({ result: 'SUCCESS', amount: MAX_MONEY, balance: MAX_MONEY, currency: 'EUR' });
    const raw = await rawAccount(sub);
    expect(raw).toMatchObject({ balance: '99999999999999', 'sum:topup': '99999999999999' });
    const cdrs = await cdrsOf(sub);
    expect(cdrs).toEqual([expect.objectContaining({ type: 'top-up', amount: MAX_MONEY, balanceAfter: MAX_MONEY })]);
  });

  it('at balance MAX_MONEY a direct debit of MAX_MONEY is exact in the answer, the CDR and the charge record, and refunds exactly', async () => {
    const sub = await account(MAX_MONEY);
    const dd = await ch2.directDebit({ ...common(sub, 'im.max'), items: [item('m1')] });
    expect(dd).toMatchObject({ result: 'SUCCESS', debitedAmount: MAX_MONEY, currency: 'EUR' });
    expect(await rawAccount(sub)).toMatchObject({ balance: '0', 'sum:debit': '99999999999999' });

    const debitCdr = (await cdrsOf(sub)).find((c) => c.cdrId === dd.cdrId);
    expect(debitCdr).toMatchObject({ type: 'direct-debit', amount: MAX_MONEY, balanceAfter: 0, service: 'im.max' });
    // the stream entry and the refundable charge record hold the digits, never `1e+14`
    const shard = e.ledger.keys.shardOf(sub);
    const entryId = dd.cdrId!.slice(dd.cdrId!.indexOf('-') + 1);
    const [[, fields]] = (await e.redis.xrange(e.ledger.keys.outbox(shard), entryId, entryId)) as [string, string[]][];
    expect(fields[fields.indexOf('amount') + 1]).toBe('99999999999999');
    const charges = e.ledger.keys.charges(shard);
    expect(await e.redis.hget(charges, dd.cdrId!)).toBe(`99999999999999|0|${sub}|im.max|EUR||m1`);

    const rf = await ch2.refund({ ...common(sub, 'im.max'), cdrId: dd.cdrId! });
    expect(rf).toMatchObject({ result: 'SUCCESS', refundedAmount: MAX_MONEY, currency: 'EUR' });
    expect(await rawAccount(sub)).toMatchObject({ balance: '99999999999999', 'sum:refund': '99999999999999', 'sum:debit': '99999999999999' });
    expect(await e.redis.hget(charges, dd.cdrId!)).toBe(`99999999999999|99999999999999|${sub}|im.max|EUR||m1`);
    const refundCdr = (await cdrsOf(sub)).find((c) => c.cdrId === rf.cdrId);
    expect(refundCdr).toMatchObject({ type: 'refund', amount: MAX_MONEY, balanceAfter: MAX_MONEY, refundOf: dd.cdrId });
    expect((await admin(e.httpPort, 'GET', path(sub))).json).toMatchObject({
      balance: MAX_MONEY,
      initial: MAX_MONEY,
      totals: { topUps: 0, refunds: MAX_MONEY, debits: MAX_MONEY },
    });
  });

  it('a top-up that would take the balance above MAX_MONEY is refused and changes nothing', async () => {
    const sub = await account(MAX_MONEY - 10);
    expect((await topUp(sub, 10)).json).toMatchObject({ result: 'SUCCESS', balance: MAX_MONEY });
    const before = await rawAccount(sub);
    const cdrsBefore = await cdrsOf(sub);

    const requestId = randomUUID();
    const over = await topUp(sub, 1, requestId);
    expect(over.status).toBe(400);
    expect(over.json.message).toEqual([`amount: 1 would take the balance of ${MAX_MONEY} above the limit of ${MAX_MONEY}`]);
    // a replay gets the same refusal
    expect(await topUp(sub, 1, requestId)).toEqual(over);

    const after = await rawAccount(sub);
    expect(after).toEqual(before);
    expect(after).toMatchObject({ balance: '99999999999999', 'sum:topup': '10', 'sum:refund': '0', 'sum:debit': '0' });
    expect(await cdrsOf(sub)).toEqual(cdrsBefore);
  });

  it('a refund that would take the balance above MAX_MONEY is refused and changes nothing', async () => {
    const sub = await account(MAX_MONEY);
    const dd = await ch2.directDebit({ ...common(sub, 'im.five'), items: [item('m1')] });
    expect(dd).toMatchObject({ result: 'SUCCESS', debitedAmount: 5 });
    expect((await topUp(sub, 5)).json).toMatchObject({ result: 'SUCCESS', balance: MAX_MONEY });
    const before = await rawAccount(sub);
    const chargesKey = e.ledger.keys.charges(e.ledger.keys.shardOf(sub));
    expect(await e.redis.hget(chargesKey, dd.cdrId!)).toBe(`5|0|${sub}|im.five|EUR||m1`);

    const rf = await ch2.refund({ ...common(sub, 'im.five'), cdrId: dd.cdrId!, amount: 2 });
    expect(rf).toMatchObject({
      result: 'INVALID_REQUEST',
      resultCode: 5004,
      details: [`amount: 2 would take the balance of ${MAX_MONEY} above the limit of ${MAX_MONEY}`],
    });
    expect(await rawAccount(sub)).toEqual(before);
    expect(await e.redis.hget(chargesKey, dd.cdrId!)).toBe(`5|0|${sub}|im.five|EUR||m1`);
    expect((await cdrsOf(sub)).filter((c) => c.type === 'refund')).toEqual([]);
  });

  it('a refund whose amount is above MAX_MONEY is INVALID_REQUEST naming amount', async () => {
    const sub = await account(100);
    const dd = await ch2.directDebit({ ...common(sub, 'im.five'), items: [item('m1')] });
    expect(dd.result).toBe('SUCCESS');
    const before = await rawAccount(sub);
    for (const amount of [MAX_MONEY + 1, 2 ** 53]) {
      const rf = await ch2.refund({ ...common(sub, 'im.five'), cdrId: dd.cdrId!, amount });
      expect(rf).toMatchObject({
        result: 'INVALID_REQUEST',
        resultCode: 5004,
        details: [`amount: must be a positive integer (minor units) of at most ${MAX_MONEY}`],
      });
      expect(rf.message).toBe('invalid ch2.refund request: amount');
    }
    expect(await rawAccount(sub)).toEqual(before);
    expect(before.balance).toBe('95');
  });
});
