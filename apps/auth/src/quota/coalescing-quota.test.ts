import type { RateLimits } from '@keyplane/contracts';
import { CoalescingQuota } from './coalescing-quota.js';
import type { Grant } from './split-grant.js';

/** A counter in memory, with calls that resolve only when the test says so. */
function fakeCounter(limit: number) {
  let used = 0;
  const calls: { keyId: string; units: number; release: () => void }[] = [];
  const consume = (keyId: string, _limits: RateLimits, _now: number, units: number) =>
    new Promise<Grant>((resolve) => {
      calls.push({
        keyId,
        units,
        release: () => {
          const granted = Math.max(0, Math.min(units, limit - used));
          resolve({ hourUsedBefore: used, dayUsedBefore: used, granted });
          used += granted;
        },
      });
    });
  return { consume, calls };
}

const limits = { hour: 5, day: 100 };
const now = Date.parse('2026-11-26T10:15:00Z');
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('CoalescingQuota', () => {
  it('counts requests that arrive while a call is in flight together, in one call', async () => {
    const counter = fakeCounter(5);
    const quota = new CoalescingQuota(counter.consume);
    const first = quota.consume('key_a', limits, now);
    const waiting = [1, 2, 3, 4, 5, 6].map(() => quota.consume('key_a', limits, now));
    expect(counter.calls.map((c) => c.units)).toEqual([1]);

    counter.calls[0].release();
    await tick();
    expect(counter.calls.map((c) => c.units)).toEqual([1, 6]);
    counter.calls[1].release();

    const results = await Promise.all([first, ...waiting]);
    expect(results.map((r) => r.admitted)).toEqual([true, true, true, true, true, false, false]);
    expect(results.map((r) => r.hourUsed)).toEqual([1, 2, 3, 4, 5, 5, 5]);
  });

  it('keeps keys apart: one call in flight per key, not per replica', async () => {
    const counter = fakeCounter(100);
    const quota = new CoalescingQuota(counter.consume);
    const a = quota.consume('key_a', limits, now);
    const b = quota.consume('key_b', limits, now);
    expect(counter.calls.map((c) => c.keyId)).toEqual(['key_a', 'key_b']);
    counter.calls.forEach((call) => call.release());
    await expect(Promise.all([a, b])).resolves.toHaveLength(2);
  });

  it('does not batch requests of different windows or limits', () => {
    const counter = fakeCounter(100);
    const quota = new CoalescingQuota(counter.consume);
    void quota.consume('key_a', limits, now);
    void quota.consume('key_a', limits, Date.parse('2026-11-26T11:00:00Z'));
    void quota.consume('key_a', { hour: 6, day: 100 }, now);
    expect(counter.calls).toHaveLength(3);
  });

  it('fails every request of a batch whose call failed, and recovers for the next ones', async () => {
    let fail = true;
    const quota = new CoalescingQuota(async (_k, _l, _n, units) => {
      if (fail) throw new Error('postgres down');
      return { hourUsedBefore: 0, dayUsedBefore: 0, granted: units };
    });
    await expect(quota.consume('key_a', limits, now)).rejects.toThrow('postgres down');
    fail = false;
    await expect(quota.consume('key_a', limits, now)).resolves.toEqual({ admitted: true, hourUsed: 1, dayUsed: 1 });
  });

  it('caps a batch, so one call never grants more than maxBatch units', async () => {
    const counter = fakeCounter(100);
    const quota = new CoalescingQuota(counter.consume, 2);
    const all = [0, 1, 2, 3, 4].map(() => quota.consume('key_a', limits, now));
    for (let i = 0; i < 3; i++) {
      counter.calls[i].release();
      await tick();
    }
    await Promise.all(all);
    expect(counter.calls.map((c) => c.units)).toEqual([1, 2, 2]);
  });
});
