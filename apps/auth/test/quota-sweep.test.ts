import { createKysely, migrateToLatest } from '@keyplane/database';
import { freshDatabase, type FreshDatabase } from '@keyplane/testing';
import { sql, type Kysely } from 'kysely';
import { migrations } from '../src/db/migrations/index.js';
import type { AuthDatabase } from '../src/db/schema.js';
import { consumeBatch } from '../src/quota/quota-store.js';
import { sweepQuotaWindows } from '../src/quota/quota-sweeper.js';

let database: FreshDatabase;
let db: Kysely<AuthDatabase>;

beforeAll(async () => {
  database = await freshDatabase('auth_sweep');
  db = createKysely<AuthDatabase>({ url: database.url, max: 2 });
  await migrateToLatest(db as Kysely<unknown>, 'auth', migrations);
});

afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

const at = (iso: string) => Date.parse(iso);
const limits = { hour: 100, day: 1000 };

describe('the quota sweep', () => {
  it('deletes windows older than the previous one, and keeps the counts that still matter', async () => {
    for (const when of ['2026-11-24T09:30:00Z', '2026-11-25T22:30:00Z', '2026-11-26T09:30:00Z', '2026-11-26T10:30:00Z']) {
      await consumeBatch(db, [{ keyId: 'key_sweep', limits, now: at(when), units: 1 }]);
    }

    expect(await sweepQuotaWindows(db, at('2026-11-26T10:45:00Z'))).toBe(3);

    const { rows } = await sql<{ period: string; start: string; used: number }>`
      SELECT period, to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS start, used
      FROM auth.quota_windows ORDER BY period, window_start
    `.execute(db);
    expect(rows).toEqual([
      { period: 'day', start: '2026-11-25T00', used: 1 },
      { period: 'day', start: '2026-11-26T00', used: 2 },
      { period: 'hour', start: '2026-11-26T09', used: 1 },
      { period: 'hour', start: '2026-11-26T10', used: 1 },
    ]);
  });
});
