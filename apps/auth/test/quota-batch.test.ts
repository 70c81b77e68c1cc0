import { createKysely, migrateToLatest } from '@keyplane/database';
import { freshDatabase, type FreshDatabase } from '@keyplane/testing';
import { sql, type Kysely } from 'kysely';
import { migrations } from '../src/db/migrations/index.js';
import type { AuthDatabase } from '../src/db/schema.js';
import { consumeBatch, LEASE_FLOOR, LEASE_SHARE, releaseBatch, type QuotaItem } from '../src/quota/quota-store.js';

let database: FreshDatabase;
let replicaA: Kysely<AuthDatabase>;
let replicaB: Kysely<AuthDatabase>;

beforeAll(async () => {
  database = await freshDatabase('auth_batch');
  replicaA = createKysely<AuthDatabase>({ url: database.url, max: 4 });
  replicaB = createKysely<AuthDatabase>({ url: database.url, max: 4 });
  await migrateToLatest(replicaA, 'auth', migrations);
});

afterAll(async () => {
  await replicaA?.destroy();
  await replicaB?.destroy();
  await database?.drop();
});

const at = (iso: string) => Date.parse(iso);

async function used(keyId: string): Promise<Record<string, number>> {
  const { rows } = await sql<{ period: string; used: number }>`
    SELECT period, sum(used)::integer AS used FROM auth.quota_windows WHERE key_id = ${keyId} GROUP BY period
  `.execute(replicaA);
  return Object.fromEntries(rows.map((row) => [row.period, row.used]));
}

describe('auth.lease_quota_batch', () => {
  it('answers in the order of the items, granting what both windows still hold', async () => {
    const limits = { hour: 3, day: 100 };
    const grants = await consumeBatch(replicaA, [
      { keyId: 'key_b1', limits, now: at('2026-11-26T10:10:00Z'), units: 2 },
      { keyId: 'key_a1', limits, now: at('2026-11-26T10:10:00Z'), units: 5 },
    ]);
    expect(grants).toEqual([
      { hourUsedBefore: 0, dayUsedBefore: 0, granted: 2, leased: 0 },
      { hourUsedBefore: 0, dayUsedBefore: 0, granted: 3, leased: 0 },
    ]);
    expect(await used('key_a1')).toEqual({ hour: 3, day: 3 });
  });

  it('grants items of one key that share the day window one after the other', async () => {
    const limits = { hour: 10, day: 4 };
    const grants = await consumeBatch(replicaA, [
      { keyId: 'key_c1', limits, now: at('2026-11-26T11:00:01Z'), units: 3 },
      { keyId: 'key_c1', limits, now: at('2026-11-26T10:59:59Z'), units: 3 },
    ]);
    // The earlier hour is taken first (key, then window order): it gets 3, the later hour the 1 left in the day.
    expect(grants).toEqual([
      { hourUsedBefore: 0, dayUsedBefore: 3, granted: 1, leased: 0 },
      { hourUsedBefore: 0, dayUsedBefore: 0, granted: 3, leased: 0 },
    ]);
    expect(await used('key_c1')).toEqual({ hour: 4, day: 4 });
  });

  it('stays exact, without deadlocks, when two replicas count overlapping keys in opposite orders', async () => {
    const limits = { hour: 40, day: 1000 };
    const keys = ['key_d1', 'key_d2', 'key_d3', 'key_d4', 'key_d5'];
    const now = at('2026-11-26T12:30:00Z');
    const batch = (order: string[]): QuotaItem[] => order.map((keyId) => ({ keyId, limits, now, units: 3 }));
    const calls = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? consumeBatch(replicaA, batch(keys)) : consumeBatch(replicaB, batch([...keys].reverse())),
    );
    const results = await Promise.all(calls);
    for (const keyId of keys) {
      expect(await used(keyId)).toEqual({ hour: 40, day: 40 });
    }
    const granted = results.flat().reduce((sum, grant) => sum + grant.granted, 0);
    expect(granted).toBe(40 * keys.length);
  });

  it('leases on top of the waiting units only while plenty is left, and at most a share of it', async () => {
    const now = at('2026-11-26T13:30:00Z');
    const limits = { hour: 2000, day: 100_000 };
    const lease = (units: number, wanted: number) => consumeBatch(replicaA, [{ keyId: 'key_l1', limits, now, units, lease: wanted }]);

    expect(await lease(1, 64)).toEqual([{ hourUsedBefore: 0, dayUsedBefore: 0, granted: 1, leased: 64 }]);
    // 1935 left after the waiting unit: a share of them caps the lease.
    expect(await lease(1, 500)).toEqual([{ hourUsedBefore: 65, dayUsedBefore: 65, granted: 1, leased: Math.floor(1934 / LEASE_SHARE) }]);
    // Take the hour down to just above the floor, then just below it: no more leases.
    const used = 66 + Math.floor(1934 / LEASE_SHARE);
    await lease(2000 - used - LEASE_FLOOR - 1, 0);
    expect(await lease(1, 500)).toEqual([{ hourUsedBefore: 2000 - LEASE_FLOOR - 1, dayUsedBefore: 2000 - LEASE_FLOOR - 1, granted: 1, leased: LEASE_FLOOR / LEASE_SHARE }]);
    const [below] = await lease(1, 500);
    expect(below.leased).toBe(0);
  });

  it('takes released units back out of both windows, never below zero', async () => {
    const now = at('2026-11-26T14:30:00Z');
    const limits = { hour: 5000, day: 100_000 };
    await consumeBatch(replicaA, [{ keyId: 'key_r1', limits, now, units: 3, lease: 100 }]);
    expect(await used('key_r1')).toEqual({ hour: 103, day: 103 });

    await releaseBatch(replicaB, [
      { keyId: 'key_r1', now, units: 60 },
      { keyId: 'key_r1', now, units: 40 },
      { keyId: 'key_r2', now, units: 5 },
    ]);
    expect(await used('key_r1')).toEqual({ hour: 3, day: 3 });
    await releaseBatch(replicaB, [{ keyId: 'key_r1', now, units: 10 }]);
    expect(await used('key_r1')).toEqual({ hour: 0, day: 0 });
  });
});
