import { ExpirySweeper, SweptStore } from './expiry-sweeper';

/** A store whose sweeps end when the spec says so; counts how many run at once. */
function slowStore() {
  const ends: (() => void)[] = [];
  let inFlight = 0;
  let most = 0;
  let migrations = 0;
  const store = {
    expiryIndex: { migrate: async () => (migrations++, 0) },
    sweepExpired: () =>
      new Promise<number>((resolve) => {
        most = Math.max(most, ++inFlight);
        ends.push(() => {
          inFlight--;
          resolve(0);
        });
      }),
  } as unknown as SweptStore;
  return { store, ends, most: () => most, migrations: () => migrations };
}

describe('ExpirySweeper', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('never overlaps sweeps: the next is scheduled intervalMs after the previous ends', async () => {
    const s = slowStore();
    const sweeper = new ExpirySweeper(s.store, async () => undefined, 100, { log: () => undefined, warn: () => undefined });
    sweeper.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(s.ends).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1000); // ten intervals while the first sweep is still running
    expect(s.ends).toHaveLength(1);
    s.ends[0]();
    await jest.advanceTimersByTimeAsync(99);
    expect(s.ends).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(s.ends).toHaveLength(2);
    expect(s.most()).toBe(1);
    expect(s.migrations()).toBe(1);
    s.ends[1]();
    await sweeper.stop();
    await jest.advanceTimersByTimeAsync(1000);
    expect(s.ends).toHaveLength(2);
  });

  it('a failed sweep is logged and the next one still comes', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const store = {
      expiryIndex: { migrate: async () => 0 },
      sweepExpired: async () => {
        calls++;
        throw new Error('redis away');
      },
    } as unknown as SweptStore;
    const sweeper = new ExpirySweeper(store, async () => undefined, 50, { log: () => undefined, warn: (m) => warnings.push(m) });
    sweeper.start();
    await jest.advanceTimersByTimeAsync(120);
    await sweeper.stop();
    expect(calls).toBe(3);
    expect(warnings[0]).toBe('expiry sweep: redis away; will retry');
  });
});
