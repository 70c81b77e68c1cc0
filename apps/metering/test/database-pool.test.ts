import { sql } from 'kysely';
import { request } from '@keyplane/nats';
import { keyIdOf, waitFor } from '@keyplane/testing';
import { MeteringHarness } from './support/metering-harness.js';

const CONCURRENT_QUERIES = 12;
/** Looks at the pool while the queries wait, so one it opened late would still be seen. */
const LOOKS_WHILE_BLOCKED = 20;

describe('DATABASE_POOL_MAX', () => {
  let h: MeteringHarness;

  beforeAll(async () => {
    h = await MeteringHarness.create('database_pool', { DATABASE_POOL_MAX: '2' });
    await h.start();
  });

  afterAll(async () => {
    await h.close();
  });

  const meteringConnections = async () => {
    const { rows } = await sql<{ open: number; blocked: number }>`
      SELECT count(*) AS open, count(*) FILTER (WHERE wait_event_type = 'Lock') AS blocked
      FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'metering'`.execute(h.db);
    return rows[0]!;
  };

  it('holds no more connections than it allows, however many queries wait, and answers them all', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    // Every query metering gets now waits in Postgres on the lock, holding its connection, so the
    // pool has to open as many connections as it may.
    const holder = h.db.transaction().execute(async (trx) => {
      await sql`LOCK TABLE metering.key_last_used IN ACCESS EXCLUSIVE MODE`.execute(trx);
      locked();
      await released;
    });
    let most = 0;
    let answers: Promise<unknown>[] = [];
    try {
      await lockTaken;
      answers = Array.from({ length: CONCURRENT_QUERIES }, (_, index) =>
        request(h.client, h.ns.subjects.metering.lastUsed, { accountId: 'acc_test', keyIds: [keyIdOf(`pool-${index}`)] }, 60_000),
      );
      await waitFor('metering to wait on the lock with every connection it may open', async () => (await meteringConnections()).blocked >= 2, 15_000);
      for (let look = 0; look < LOOKS_WHILE_BLOCKED; look += 1) {
        most = Math.max(most, (await meteringConnections()).open);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      release();
      await holder;
    }
    expect(await Promise.all(answers)).toEqual(Array.from({ length: CONCURRENT_QUERIES }, () => ({ ok: true, value: {} })));
    expect(most).toBe(2);
  });
});
