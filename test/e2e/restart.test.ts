/**
 * The im-server stops in the middle of a retrieval and a new one takes over: the message whose delivery was
 * confirmed is gone and charged once; the ones still in flight are kept and charged once when retrieved later.
 */
import { retrieve } from '../../apps/cli/src/retrieval-client';
import { startImServer } from '../../apps/im-server/src/bootstrap';
import { admin, startEnabler, testNamespace, waitFor } from '../support/enabler-harness';
import { deposit, imEnv, provision, Stack, uniqueUser } from '../support/stack-harness';

describe('im-server restart mid-retrieval', () => {
  it('keeps undelivered messages and charges every message exactly once', async () => {
    const ns = testNamespace();
    const enabler = await startEnabler(ns);
    const env = await imEnv(ns, { MSRP_TRANSACTION_TIMEOUT_MS: '5000' });
    let im = await startImServer(env);
    const stack = () => ({ ns, enabler, im, env, sipWsUrl: `ws://127.0.0.1:${im.sipWsPort}`, close: async () => undefined }) as unknown as Stack;
    try {
      const bob = await provision(stack(), uniqueUser('bob'), 100);
      for (const t of ['a', 'b', 'c']) await deposit(stack(), bob, 'sip:alice@example.com', t);
      let stopping: Promise<void> | undefined;
      const first = await retrieve({
        sipWsUrl: stack().sipWsUrl,
        aor: bob,
        password: 'secret-pw',
        // confirm the first message only, then the server goes down while the others wait for their 200
        answer: (_m, i) => {
          if (i === 0) return 200;
          stopping ??= im.close();
          return undefined;
        },
        timeoutMs: 8000,
      });
      expect(first.messages.map((m) => m.text)).toEqual(['a']);
      await stopping;
      im = await startImServer(env); // same ports, same Redis and NATS
      const pending = (await admin(im.httpPort, 'GET', `/v1/users/${encodeURIComponent(bob)}/deferred`)).json.messages;
      expect(pending).toHaveLength(2);
      const second = await retrieve({ sipWsUrl: stack().sipWsUrl, aor: bob, password: 'secret-pw', expect: 2, timeoutMs: 8000 });
      expect(second.messages.map((m) => m.text)).toEqual(['b', 'c']);
      const acct = await waitFor(async () => {
        const a = (await admin(enabler.httpPort, 'GET', `/v1/accounts/${encodeURIComponent(bob)}`)).json;
        return a.reserved === 0 ? a : undefined;
      }, 'settled');
      expect(acct.balance).toBe(100 - 3 * 6);
      const debits = (await enabler.cdrs.list({ subscriber: bob, type: 'debit' })).cdrs;
      expect(debits).toHaveLength(3);
      expect(new Set(debits.map((d) => d.itemId)).size).toBe(3);
    } finally {
      await im.close();
      await enabler.close();
    }
  });
});
