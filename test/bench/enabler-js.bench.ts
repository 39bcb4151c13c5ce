/**
 * bench:enabler-js — the enabler's own JavaScript per reserve+debit pair, without I/O: the CH-2 transport's envelope
 * handling (Ch2NatsServer), ChargingService (validation, rating, metrics) and the ledger's calls (keys, argument
 * objects, JSON), with the Redis client replaced by one that answers each script from memory and the NATS message by
 * an object that takes the reply. CPU time per pair (process.cpuUsage), the building of the requests subtracted; five
 * rounds, median and spread. On a shared machine this is the figure that shows a change of the enabler's code that
 * bench:charging's throughput cannot (its rows swing with the other load). Not a test: it never fails on a figure.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Msg } from 'nats';
import type { RedisClient } from '@imc/runtime';
import { loadEnablerConfig } from '../../apps/charging-enabler/src/config';
import { Ch2NatsServer } from '../../apps/charging-enabler/src/ch2/ch2-nats.server';
import { ChargingService } from '../../apps/charging-enabler/src/ch2/charging.service';
import { Notifier } from '../../apps/charging-enabler/src/ch2/notifier';
import { LedgerKeys } from '../../apps/charging-enabler/src/ledger/ledger-keys';
import { RedisCreditLedger } from '../../apps/charging-enabler/src/ledger/redis-credit-ledger';
import { EnablerMetrics } from '../../apps/charging-enabler/src/observability/enabler-metrics';
import { TariffBook } from '../../apps/charging-enabler/src/rating/tariff-book';

const ROOT = join(__dirname, '..', '..', '..');
const PAIRS = Number(process.env.BENCH_PAIRS ?? 100000);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A Redis client that only defines commands, each answering as the ledger script of its name would on success. */
function scriptedRedis(): RedisClient {
  const redis: Record<string, unknown> = {
    defineCommand(name: string) {
      redis[name] = () =>
        Promise.resolve(
          name.endsWith('_reserve')
            ? [`{"requestId":"r","result":"SUCCESS","resultCode":2001,"reservationId":"${randomUUID()}","grantedItems":["m"],"reservedAmount":6,"validitySeconds":120,"expiresAt":"2026-12-05T20:00:00.000Z","currency":"EUR"}`, '[]']
            : ['{"remainingReserved":0,"currency":"EUR","cdrId":"s0-1796500505852-0","resultCode":2001,"debitedAmount":6,"result":"SUCCESS","requestId":"d"}', '[]'],
        );
    },
  };
  return redis as unknown as RedisClient;
}

async function main(): Promise<void> {
  const tariffsFile = join(ROOT, 'deploy', 'tariffs.yaml');
  const config = loadEnablerConfig({ TARIFFS_FILE: tariffsFile, NATS_URL: 'nats://127.0.0.1:4222', REDIS_URL: 'redis://127.0.0.1:6379', ADMIN_TOKEN: 'bench' });
  const ledger = new RedisCreditLedger(scriptedRedis(), new LedgerKeys('bench:', 16), 86400);
  const charging = new ChargingService(config, ledger, TariffBook.fromFile(tariffsFile), new Notifier(() => undefined, ''), new EnablerMetrics(false), console);
  const server = new Ch2NatsServer({ connection: {} as never, queue: 'bench', name: 'bench', graceMs: 0 });
  // the transport's own message path (envelope parse, handler, reply envelope), on a message that takes the reply
  const onMessage = (server as unknown as { onMessage(h: (d: unknown) => Promise<unknown>, m: Msg): Promise<void> }).onMessage.bind(server);
  const handlers = { reserve: (d: unknown) => charging.handle('reserve', d), debit: (d: unknown) => charging.handle('debit', d) };
  const call = async (op: 'reserve' | 'debit', data: Uint8Array): Promise<Uint8Array> => {
    let reply: Uint8Array | undefined;
    await onMessage(handlers[op], { data, reply: '_INBOX.bench', respond: (r: Uint8Array) => ((reply = r), true) } as unknown as Msg);
    return reply!;
  };
  const sub = 'sip:bench@example.com';
  const now = new Date().toISOString();
  const request = (op: string, data: Record<string, unknown>) =>
    enc.encode(JSON.stringify({ pattern: `ch2.${op}`, data: { requestId: randomUUID(), subscriber: sub, service: 'im.deferred-retrieval', timestamp: now, ...data }, id: randomUUID() }));
  const pair = async () => {
    const itemId = randomUUID();
    const r = JSON.parse(dec.decode(await call('reserve', request('reserve', { items: [{ id: itemId, octets: 1024 }] }))));
    await call('debit', request('debit', { reservationId: r.response.reservationId, itemId, outcome: 'delivered', octets: 1024 }));
  };
  // what the pair's requests and the reading of the reserve's answer cost on their own (subtracted)
  const client = async () => {
    const itemId = randomUUID();
    request('reserve', { items: [{ id: itemId, octets: 1024 }] });
    JSON.parse(`{"err":null,"response":{"reservationId":"${randomUUID()}"},"id":"x"}`);
    request('debit', { reservationId: 'r', itemId, outcome: 'delivered', octets: 1024 });
  };
  const perCall = async (f: () => Promise<void>, n: number): Promise<number> => {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) await f();
    const u = process.cpuUsage(t);
    return (u.user + u.system) / n;
  };
  await perCall(pair, PAIRS / 5);
  await perCall(client, PAIRS / 5);
  const rounds: number[] = [];
  for (let k = 0; k < 5; k++) rounds.push((await perCall(pair, PAIRS)) - (await perCall(client, PAIRS)));
  rounds.sort((a, b) => a - b);
  console.log(`bench:enabler-js — the enabler's JavaScript per reserve+debit pair, no I/O: median ${rounds[2].toFixed(1)} µs (${rounds[0].toFixed(1)}–${rounds[4].toFixed(1)} over 5 rounds of ${PAIRS} pairs)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
