import { GroupCommit } from './group-commit';

/** A flush the test answers by hand: each call waits until released. */
function heldFlush() {
  const calls: { key: string; items: number[]; release(fail?: Error): void }[] = [];
  const flush = (key: string, items: number[]) =>
    new Promise<string[]>((resolve, reject) => calls.push({ key, items, release: (fail) => (fail ? reject(fail) : resolve(items.map((i) => `${key}:${i}`))) }));
  return { calls, flush };
}

describe('GroupCommit', () => {
  it('flushes a lone item at once, and what came meanwhile together in the next flush, in order', async () => {
    const { calls, flush } = heldFlush();
    const g = new GroupCommit(flush, 3);
    const first = g.submit('r1', 1);
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    const rest = [2, 3, 4, 5].map((i) => g.submit('r1', i));
    const other = g.submit('r2', 9); // another key is not held behind r1
    expect(calls.map((c) => [c.key, c.items])).toEqual([['r1', [1]], ['r2', [9]]]);
    calls[0].release();
    expect(await first).toBe('r1:1');
    await new Promise(setImmediate);
    expect(calls[2].items).toEqual([2, 3, 4]); // at most `max` per flush
    calls[2].release();
    await new Promise(setImmediate);
    expect(calls[3].items).toEqual([5]);
    calls[3].release();
    calls[1].release();
    expect(await Promise.all([...rest, other])).toEqual(['r1:2', 'r1:3', 'r1:4', 'r1:5', 'r2:9']);
    expect(g.busy).toBe(0);
  });

  it('a failed flush rejects each of its items; the key goes on with the next ones', async () => {
    const { calls, flush } = heldFlush();
    const g = new GroupCommit(flush);
    const a = g.submit('k', 1);
    const b = g.submit('k', 2);
    const c = g.submit('k', 3);
    calls[0].release(new Error('enabler gone'));
    await expect(a).rejects.toThrow('enabler gone');
    await new Promise(setImmediate);
    calls[1].release(new Error('still gone'));
    await expect(Promise.allSettled([b, c])).resolves.toEqual([
      { status: 'rejected', reason: new Error('still gone') },
      { status: 'rejected', reason: new Error('still gone') },
    ]);
    const d = g.submit('k', 4);
    await new Promise(setImmediate);
    calls[2].release();
    expect(await d).toBe('k:4');
  });
});
