import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { dropDatabase, ensureDatabase } from './create-database.js';
import { createKysely } from './kysely.js';

interface Tables {
  counters: { name: string; total: number };
}

const url = `${process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432'}/kp_db_kysely_${randomBytes(4).toString('hex')}`;

let db: Kysely<Tables>;

beforeAll(async () => {
  await ensureDatabase(url);
  db = createKysely<Tables>({ url, max: 2, applicationName: 'kysely-test' });
  await sql`CREATE TABLE counters (name text PRIMARY KEY, total bigint NOT NULL)`.execute(db);
});

afterAll(async () => {
  await db?.destroy();
  await dropDatabase(url);
});

describe('createKysely', () => {
  it('reads bigint columns as numbers', async () => {
    await db.insertInto('counters').values({ name: 'requests', total: 9_007_199_254_740_991 }).execute();

    const row = await db.selectFrom('counters').selectAll().where('name', '=', 'requests').executeTakeFirstOrThrow();

    expect(row).toEqual({ name: 'requests', total: 9_007_199_254_740_991 });
    expect(typeof row.total).toBe('number');
  });

  it('reads count(*) (int8) as a number', async () => {
    const { rows } = await sql<{ n: number }>`SELECT count(*) AS n FROM generate_series(1, 3)`.execute(db);

    expect(rows).toEqual([{ n: 3 }]);
  });

  it('names its connections with the application name', async () => {
    const { rows } = await sql<{ name: string }>`SELECT current_setting('application_name') AS name`.execute(db);

    expect(rows).toEqual([{ name: 'kysely-test' }]);
  });

  it('survives a connection lost while lent out: its query fails, the process carries on', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const lost = db.connection().execute(async (lent) => {
        const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(lent);
        // Ended from the other pooled connection while this one is lent and idle, as a failover would.
        await sql`SELECT pg_terminate_backend(${rows[0]!.pid})`.execute(db);
        await new Promise((resolve) => setTimeout(resolve, 200));
        await sql`SELECT 1`.execute(lent);
      });
      await expect(lost).rejects.toThrow();
      expect(uncaught).toEqual([]);
      expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(db)).rows).toEqual([{ one: 1 }]);
    } finally {
      process.off('uncaughtException', record);
    }
  });
});
