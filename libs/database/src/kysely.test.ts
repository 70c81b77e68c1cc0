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
});
