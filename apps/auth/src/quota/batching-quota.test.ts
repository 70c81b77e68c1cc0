import { BatchingQuota } from './batching-quota.js';
import type { QuotaItem } from './quota-store.js';
import type { Grant } from './split-grant.js';

/** A counter in memory, one limit for every key, with calls that resolve only when the test says so. */
function fakeCounter(limit: number) {
  const used = new Map<string, number>();
  const calls: { items: QuotaItem[]; release: () => void }[] = [];
  const consume = (items: QuotaItem[]) =>
    new Promise<Grant[]>((resolve) => {
      calls.push({
        items,
        release: () =>
          resolve(
            items.map(({ keyId, units }) => {
              const before = used.get(keyId) ?? 0;
              const granted = Math.max(0, Math.min(units, limit - before));
              used.set(keyId, before + granted);
              return { hourUsedBefore: before, dayUsedBefore: before, granted };
            }),
          ),
      });
    });
  return { consume, calls };
}

const limits = { hour: 5, day: 100 };
const now = Date.parse('2026-11-26T10:15:00Z');
const tick = () => new Promise((resolve) => setImmediate(resolve));
const shape = (items: QuotaItem[]) => items.map(({ keyId, units }) => `${keyId}×${units}`);

describe('BatchingQuota', () => {
  it('counts every request that arrives while the calls are in flight, for all keys, in the next call', async () => {
    const counter = fakeCounter(5);
    const quota = new BatchingQuota(counter.consume, 1);
    const first = quota.consume('key_a', limits, now);
    const a = [1, 2, 3, 4, 5, 6].map(() => quota.consume('key_a', limits, now));
    const b = [1, 2].map(() => quota.consume('key_b', limits, now));
    expect(counter.calls.map((c) => shape(c.items))).toEqual([['key_a×1']]);

    counter.calls[0].release();
    await tick();
    expect(counter.calls.map((c) => shape(c.items))).toEqual([['key_a×1'], ['key_a×6', 'key_b×2']]);
    counter.calls[1].release();

    const resultsA = await Promise.all([first, ...a]);
    expect(resultsA.map((r) => r.admitted)).toEqual([true, true, true, true, true, false, false]);
    expect(resultsA.map((r) => r.hourUsed)).toEqual([1, 2, 3, 4, 5, 5, 5]);
    expect((await Promise.all(b)).map((r) => r.hourUsed)).toEqual([1, 2]);
  });

  it('keeps requests of different windows or limits in separate items', async () => {
    const counter = fakeCounter(100);
    const quota = new BatchingQuota(counter.consume, 1);
    const blocker = quota.consume('key_z', limits, now);
    const all = [
      quota.consume('key_a', limits, now),
      quota.consume('key_a', limits, Date.parse('2026-11-26T11:00:00Z')),
      quota.consume('key_a', { hour: 6, day: 100 }, now),
    ];
    counter.calls[0].release();
    await tick();
    expect(counter.calls[1].items).toHaveLength(3);
    counter.calls[1].release();
    await Promise.all([blocker, ...all]);
  });

  it('keeps up to maxInFlight calls going before it starts batching', async () => {
    const counter = fakeCounter(100);
    const quota = new BatchingQuota(counter.consume, 2);
    const all = ['key_a', 'key_b', 'key_c', 'key_d'].map((key) => quota.consume(key, limits, now));
    expect(counter.calls.map((c) => shape(c.items))).toEqual([['key_a×1'], ['key_b×1']]);
    counter.calls[1].release();
    await tick();
    expect(counter.calls.map((c) => shape(c.items))).toEqual([['key_a×1'], ['key_b×1'], ['key_c×1', 'key_d×1']]);
    counter.calls[0].release();
    counter.calls[2].release();
    await Promise.all(all);
  });

  it('fails every request of a batch whose call failed, and recovers for the next ones', async () => {
    let fail = true;
    const quota = new BatchingQuota(async (items) => {
      if (fail) throw new Error('postgres down');
      return items.map((item) => ({ hourUsedBefore: 0, dayUsedBefore: 0, granted: item.units }));
    });
    await expect(quota.consume('key_a', limits, now)).rejects.toThrow('postgres down');
    fail = false;
    await expect(quota.consume('key_a', limits, now)).resolves.toEqual({ admitted: true, hourUsed: 1, dayUsed: 1 });
  });

  it('caps the items of one call and counts the rest in the following calls', async () => {
    const counter = fakeCounter(100);
    const quota = new BatchingQuota(counter.consume, 1, 2);
    const blocker = quota.consume('key_z', limits, now);
    const all = ['key_a', 'key_b', 'key_c', 'key_d', 'key_e'].map((key) => quota.consume(key, limits, now));
    for (let i = 0; i < 4; i++) {
      counter.calls[i].release();
      await tick();
    }
    await Promise.all([blocker, ...all]);
    expect(counter.calls.map((c) => c.items.length)).toEqual([1, 2, 2, 1]);
  });
});
