import { BatchingQuota, WARM_MEMORY_MS } from './batching-quota.js';
import type { QuotaItem } from './quota-store.js';
import type { Grant } from './split-grant.js';

/**
 * A counter in memory, one limit for every key, with calls that resolve only when the test says
 * so. Leases are granted in full while the limit allows.
 */
function fakeCounter(limit: number) {
  const used = new Map<string, number>();
  const calls: { items: QuotaItem[]; release: () => void }[] = [];
  const consume = (items: QuotaItem[]) =>
    new Promise<Grant[]>((resolve) => {
      calls.push({
        items,
        release: () =>
          resolve(
            items.map(({ keyId, units, lease = 0 }) => {
              const before = used.get(keyId) ?? 0;
              const granted = Math.max(0, Math.min(units, limit - before));
              const leased = Math.max(0, Math.min(lease, limit - before - granted));
              used.set(keyId, before + granted + leased);
              return { hourUsedBefore: before, dayUsedBefore: before, granted, leased };
            }),
          ),
      });
    });
  return { consume, calls, used };
}

const limits = { hour: 5, day: 100 };
const limits1000 = { hour: 1000, day: 10_000 };
const now = Date.parse('2026-11-26T10:15:00Z');
const tick = () => new Promise((resolve) => setImmediate(resolve));
/** key_a counted twice at limits1000, its second call leasing ahead: the replica holds its unspent units. */
async function holdingLeasedUnits(leaseMax: number) {
  const counter = fakeCounter(1000);
  const quota = new BatchingQuota(counter.consume, { lease: { max: leaseMax, warmup: 0 } });
  for (const [call, at] of [[0, now], [1, now + 1]] as const) {
    const answered = quota.consume('key_a', limits1000, at);
    counter.calls[call].release();
    await answered;
    await tick();
  }
  return { counter, quota };
}

const shape = (items: QuotaItem[]) => items.map(({ keyId, units, lease }) => `${keyId}×${units}${lease ? `+${lease}` : ''}`);

describe('BatchingQuota', () => {
  it('counts every request that arrives while the calls are in flight, for all keys, in the next call', async () => {
    const counter = fakeCounter(5);
    const quota = new BatchingQuota(counter.consume);
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
    const quota = new BatchingQuota(counter.consume);
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
    const quota = new BatchingQuota(counter.consume, { maxInFlight: 2 });
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
      return items.map((item) => ({ hourUsedBefore: 0, dayUsedBefore: 0, granted: item.units, leased: 0 }));
    });
    await expect(quota.consume('key_a', limits, now)).rejects.toThrow('postgres down');
    fail = false;
    await expect(quota.consume('key_a', limits, now)).resolves.toEqual({ admitted: true, hourUsed: 1, dayUsed: 1 });
  });

  it('caps the items of one call and counts the rest in the following calls', async () => {
    const counter = fakeCounter(100);
    const quota = new BatchingQuota(counter.consume, { maxItems: 2 });
    const blocker = quota.consume('key_z', limits, now);
    const all = ['key_a', 'key_b', 'key_c', 'key_d', 'key_e'].map((key) => quota.consume(key, limits, now));
    for (let i = 0; i < 4; i++) {
      counter.calls[i].release();
      await tick();
    }
    await Promise.all([blocker, ...all]);
    expect(counter.calls.map((c) => c.items.length)).toEqual([1, 2, 2, 1]);
  });

  describe('leases', () => {
    const instant = (counter: ReturnType<typeof fakeCounter>) => (items: QuotaItem[]) => {
      const granted = counter.consume(items);
      counter.calls.at(-1)!.release();
      return granted;
    };

    it('starts once a key is warm, refills in the background, doubles while refills come quickly, and numbers every request in order', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(instant(counter), { lease: { max: 8, warmup: 3 } });
      const results = [];
      for (let i = 0; i < 20; i++) {
        results.push(await quota.consume('key_a', limits1000, now + i * 10));
        await tick();
      }

      // Three requests wait for the store; from then on each lease is asked for once half of
      // the one before is spent, with no request waiting (×0).
      expect(counter.calls.map((c) => shape(c.items))).toEqual([['key_a×1'], ['key_a×1'], ['key_a×1+1'], ['key_a×0+2'], ['key_a×0+4'], ['key_a×0+8'], ['key_a×0+8']]);
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => ({ admitted: true, hourUsed: i + 1, dayUsed: i + 1 })));
      expect(counter.used.get('key_a')).toBe(26);
      expect(quota.takeAllLeases()).toEqual([{ keyId: 'key_a', now, units: 6 }]);
    });

    it('shrinks when the key cools down, and stays within its maximum', async () => {
      const counter = fakeCounter(10_000);
      const quota = new BatchingQuota(instant(counter), { lease: { max: 4, warmup: 0 } });
      let at = now;
      const request = async (gap: number) => {
        await quota.consume('key_a', limits1000, (at += gap));
        await tick();
      };
      for (let i = 0; i < 12; i++) await request(10);
      const leases = () => counter.calls.map((c) => c.items[0].lease ?? 0);
      expect(Math.max(...leases())).toBe(4);
      const before = counter.calls.length;
      // What is left is spent first; then each refill is half the last, down to none: the key
      // is counted request by request again.
      for (let i = 0; i < 12; i++) await request(1500);
      expect(leases().slice(before)).toEqual([2, 1, 0, 0, 0, 0]);
    });

    it('serves requests that arrived while a refill was in flight from the lease it brings', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(counter.consume, { lease: { max: 4, warmup: 0 } });
      const first = quota.consume('key_a', limits1000, now);
      const queued = [quota.consume('key_a', limits1000, now), quota.consume('key_a', limits1000, now)];
      counter.calls[0].release();
      await tick();
      expect(shape(counter.calls[1].items)).toEqual(['key_a×2+1']);
      const late = quota.consume('key_a', limits1000, now);
      counter.calls[1].release();

      const results = await Promise.all([first, ...queued, late]);
      expect(results.map((r) => r.hourUsed)).toEqual([1, 2, 3, 4]);
      // The late one took the lease; the next is already asked for, with nobody waiting.
      expect(counter.calls.map((c) => shape(c.items))).toEqual([['key_a×1'], ['key_a×2+1'], ['key_a×0+2']]);
    });

    it('gives back what a quiet key did not spend, and everything on shutdown', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(instant(counter), { lease: { max: 8, warmup: 0 } });
      const request = async (keyId: string, at: number) => {
        await quota.consume(keyId, limits1000, at);
        await tick();
      };
      // Leases of 0, 1, 2, then 4: four requests counted, five units still held, for each key.
      for (let i = 0; i < 4; i++) await request('key_a', now + i);
      for (let i = 0; i < 4; i++) await request('key_b', now + 500 + i);
      expect(counter.used).toEqual(new Map([['key_a', 9], ['key_b', 9]]));

      expect(quota.takeIdleLeases(now + 3 + 999, 1000)).toEqual([]);
      expect(quota.takeIdleLeases(now + 3 + 1000, 1000)).toEqual([{ keyId: 'key_a', now, units: 5 }]);
      expect(quota.takeAllLeases()).toEqual([{ keyId: 'key_b', now: now + 500, units: 5 }]);
      expect(quota.takeAllLeases()).toEqual([]);
    });

    it('remembers a hot key for a minute after its lease went back, so it leases again from its first request', async () => {
      const counter = fakeCounter(10_000);
      const quota = new BatchingQuota(instant(counter), { lease: { max: 8, warmup: 3 } });
      const burst = async (keyId: string, from: number, requests: number) => {
        for (let i = 0; i < requests; i++) {
          await quota.consume(keyId, limits1000, from + i);
          await tick();
        }
      };
      await burst('key_hot', now, 6);
      await burst('key_cold', now, 2);
      const idleAt = now + 5 + 1000;
      expect(quota.takeIdleLeases(idleAt, 1000)).toEqual([{ keyId: 'key_hot', now, units: 4 }]);

      const callsBefore = counter.calls.length;
      await burst('key_hot', idleAt + 2000, 1);
      await burst('key_cold', idleAt + 2000, 1);
      // The hot key's lease was 4; three seconds later it halves, and its first request brings it.
      expect(counter.calls.slice(callsBefore).map((c) => shape(c.items))).toEqual([['key_hot×1+2'], ['key_cold×1']]);

      expect(quota.takeIdleLeases(idleAt + 3000, 1000)).toEqual([{ keyId: 'key_hot', now, units: 2 }]);
      const minuteLater = idleAt + 2000 + 1000 + WARM_MEMORY_MS;
      expect(quota.takeIdleLeases(minuteLater, 1000)).toEqual([]);
      const callsThen = counter.calls.length;
      await burst('key_hot', minuteLater, 1);
      expect(shape(counter.calls[callsThen].items)).toEqual(['key_hot×1']);
    });

    it('gathers refills ahead of need into one store call, and sends them at once with a request that has to wait', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(instant(counter), { lease: { max: 4, warmup: 0, refillGatherMs: 30 } });
      const request = async (keyId: string, at: number) => {
        await quota.consume(keyId, limits1000, at);
        await tick();
      };
      // Per key: counted alone, then with a lease of one; then each spends its unit, and a refill is due.
      const keys = ['key_a', 'key_b', 'key_c'];
      for (const keyId of keys) for (let i = 0; i < 2; i++) await request(keyId, now + i);
      for (const keyId of keys) await request(keyId, now + 2);
      const calls = () => counter.calls.map((c) => shape(c.items));
      expect(calls()).toHaveLength(6);

      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(calls().slice(6)).toEqual([['key_a×0+2', 'key_b×0+2', 'key_c×0+2']]);

      for (const keyId of ['key_a', 'key_b']) for (let i = 0; i < 2; i++) await request(keyId, now + 10 + i);
      expect(calls()).toHaveLength(7);
      // key_z has no lease: its request goes now, and takes the gathered refills along.
      await request('key_z', now + 20);
      expect(calls()[7]).toEqual(['key_a×0+4', 'key_b×0+4', 'key_z×1']);
      await expect(quota.idle()).resolves.toBeUndefined();
    });

    it('sends the refill of a key at the largest lease at once: half of it may not last the gathering', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(instant(counter), { lease: { max: 2, warmup: 0, refillGatherMs: 200 } });
      const request = async (at: number) => {
        await quota.consume('key_a', limits1000, at);
        await tick();
      };
      const calls = () => counter.calls.map((c) => shape(c.items));
      // Counted alone, then with a lease of one; spending it asks for a refill, which gathers.
      for (let i = 0; i < 3; i++) await request(now + i);
      expect(calls()).toEqual([['key_a×1'], ['key_a×1+1']]);
      // The next request cannot wait for the gathering: it takes the refill along, now at the largest lease.
      await request(now + 3);
      expect(calls()).toEqual([['key_a×1'], ['key_a×1+1'], ['key_a×1+2']]);
      // Half of it spent: the refill goes at once.
      await request(now + 4);
      expect(calls()).toEqual([['key_a×1'], ['key_a×1+1'], ['key_a×1+2'], ['key_a×0+2']]);
      await expect(quota.idle()).resolves.toBeUndefined();
    });

    it('does not forget a key whose next lease is still to be asked for', async () => {
      const { counter, quota } = await holdingLeasedUnits(4);
      // key_a holds one leased unit; another key's call keeps the one call in flight busy.
      const blocker = quota.consume('key_z', limits1000, now + 2);
      await quota.consume('key_a', limits1000, now + 3);
      expect(quota.takeIdleLeases(now + 5000, 1000)).toEqual([]);

      counter.calls[2].release();
      await blocker;
      await tick();
      expect(shape(counter.calls[3].items)).toEqual(['key_a×0+2']);
      counter.calls[3].release();
      await tick();
      expect(quota.takeAllLeases()).toEqual([{ keyId: 'key_a', now, units: 2 }]);
    });

    it('says when every lease asked for has arrived, so shutdown can give them all back', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(counter.consume, { lease: { max: 4, warmup: 0 } });
      await expect(quota.idle()).resolves.toBeUndefined();
      const first = quota.consume('key_a', limits1000, now);
      const second = quota.consume('key_a', limits1000, now);
      let idle = false;
      void quota.idle().then(() => (idle = true));
      counter.calls[0].release();
      await first;
      await tick();
      expect(idle).toBe(false);
      counter.calls[1].release();
      await second;
      await tick();
      expect(idle).toBe(true);
      expect(quota.takeAllLeases()).toEqual([{ keyId: 'key_a', now, units: 1 }]);
    });

    it.each([
      ['its limits change', limits1000, { hour: 900, day: 10_000 }, now + 10],
      ['the hour ends', limits1000, limits1000, Date.parse('2026-11-26T11:00:00Z')],
    ])('gives back what it holds for a key when %s, before its first request is counted', async (_, before, after, at) => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(instant(counter), { lease: { max: 8, warmup: 0 } });
      // Leases of 0, 1, 2, then 4: four requests counted, five units still held.
      for (let i = 0; i < 4; i++) {
        await quota.consume('key_a', before, now + i);
        await tick();
      }
      await quota.consume('key_b', before, now);
      const callsBefore = counter.calls.length;

      await quota.consume('key_a', after, at);
      const [first] = counter.calls[callsBefore].items;
      expect({ units: first.units, giveBack: first.giveBack }).toEqual({ units: 1, giveBack: [{ keyId: 'key_a', now, units: 5 }] });
      // Given back once: neither the next call nor the idle release or shutdown hands it back again.
      await quota.consume('key_a', after, at + 1);
      expect(counter.calls.slice(callsBefore + 1).every((c) => c.items.every((item) => (item.giveBack ?? []).length === 0))).toBe(true);
      expect(quota.takeAllLeases().filter((release) => release.keyId === 'key_a' && release.now === now)).toEqual([]);
    });

    it('gives back a lease that arrives after the limits changed, with the next call, and leases no more under the old ones', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(counter.consume, { lease: { max: 8, warmup: 0 } });
      const first = quota.consume('key_a', limits1000, now);
      const queued = quota.consume('key_a', limits1000, now);
      counter.calls[0].release();
      await first;
      await tick();
      // The second request's call, with a lease of one, is in flight when the limits change.
      expect(shape(counter.calls[1].items)).toEqual(['key_a×1+1']);
      const changed = { hour: 900, day: 10_000 };
      const next = quota.consume('key_a', changed, now + 1);
      counter.calls[1].release();
      await queued;
      await tick();
      const [item] = counter.calls[2].items;
      expect({ keyId: item.keyId, limits: item.limits, units: item.units, giveBack: item.giveBack }).toEqual({
        keyId: 'key_a',
        limits: changed,
        units: 1,
        giveBack: [{ keyId: 'key_a', now, units: 1 }],
      });
      counter.calls[2].release();
      await next;
      // A late request under the old limits is counted, but the old slot asks for no lease.
      const late = quota.consume('key_a', limits1000, now + 2);
      await tick();
      expect(shape(counter.calls[3].items)).toEqual(['key_a×1']);
      counter.calls[3].release();
      await late;
    });

    it('holds what it could not send yet for the idle release, and for shutdown', async () => {
      const { counter, quota } = await holdingLeasedUnits(8);
      // One unit leased; another key's call is in flight when key_a's limits change.
      const blocker = quota.consume('key_z', limits1000, now + 2);
      const changed = quota.consume('key_a', { hour: 900, day: 10_000 }, now + 3);
      expect(quota.takeIdleLeases(now + 10_000, 1000)).toEqual([]);
      expect(quota.takeAllLeases()).toEqual([{ keyId: 'key_a', now, units: 1 }]);
      counter.calls[2].release();
      await blocker;
      await tick();
      expect(counter.calls[3].items[0].giveBack).toBeUndefined();
      counter.calls[3].release();
      await changed;
    });

    it('leases nothing when turned off', async () => {
      const counter = fakeCounter(1000);
      const quota = new BatchingQuota(instant(counter));
      for (let i = 0; i < 100; i++) await quota.consume('key_a', limits1000, now + i);
      expect(counter.calls.every((c) => !c.items[0].lease)).toBe(true);
      expect(quota.takeAllLeases()).toEqual([]);
    });
  });
});
