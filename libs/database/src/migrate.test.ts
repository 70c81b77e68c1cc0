import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';
import { dropDatabase, ensureDatabase } from './create-database.js';
import { createKysely } from './kysely.js';
import { migrateToLatest } from './migrate.js';

const url = `${process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432'}/kp_db_migrate_${randomBytes(4).toString('hex')}`;

let db: Kysely<unknown>;

beforeAll(async () => {
  await ensureDatabase(url);
  db = createKysely<unknown>({ url, max: 4 });
});

afterAll(async () => {
  await db?.destroy();
  await dropDatabase(url);
});

let schemas = 0;
const freshSchema = () => `migrate_${(schemas += 1)}`;

/** A migration that writes its name into `<schema>.ran`, so the order they ran in can be read back. */
function logged(schema: string, name: string): Migration {
  return {
    async up(trx) {
      await sql`CREATE TABLE IF NOT EXISTS ${sql.id(schema, 'ran')} (seq serial PRIMARY KEY, name text NOT NULL)`.execute(trx);
      await sql`INSERT INTO ${sql.id(schema, 'ran')} (name) VALUES (${name})`.execute(trx);
    },
  };
}

async function ran(schema: string): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`SELECT name FROM ${sql.id(schema, 'ran')} ORDER BY seq`.execute(db);
  return rows.map((row) => row.name);
}

async function recorded(schema: string): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`SELECT name FROM ${sql.id(schema, 'kysely_migration')} ORDER BY name`.execute(db);
  return rows.map((row) => row.name);
}

async function tableExists(schema: string, table: string): Promise<boolean> {
  const { rows } = await sql<{ found: string | null }>`SELECT to_regclass(${`${schema}.${table}`}) AS found`.execute(db);
  return rows[0].found !== null;
}

describe('migrateToLatest', () => {
  it('runs the migrations in name order, whatever order they are listed in, and records them in the schema', async () => {
    const schema = freshSchema();
    await migrateToLatest(db, schema, {
      '2026_01_03_0001_third': logged(schema, 'third'),
      '2026_01_01_0001_first': logged(schema, 'first'),
      '2026_01_02_0001_second': logged(schema, 'second'),
    });

    expect(await ran(schema)).toEqual(['first', 'second', 'third']);
    expect(await recorded(schema)).toEqual(['2026_01_01_0001_first', '2026_01_02_0001_second', '2026_01_03_0001_third']);
    expect(await tableExists('public', 'kysely_migration')).toBe(false);
  });

  it('runs nothing twice, and only the new migration on a later start', async () => {
    const schema = freshSchema();
    const first = { '0001_a': logged(schema, 'a'), '0002_b': logged(schema, 'b') };
    await migrateToLatest(db, schema, first);
    await migrateToLatest(db, schema, first);
    expect(await ran(schema)).toEqual(['a', 'b']);

    await migrateToLatest(db, schema, { ...first, '0003_c': logged(schema, 'c') });

    expect(await ran(schema)).toEqual(['a', 'b', 'c']);
    expect(await recorded(schema)).toEqual(['0001_a', '0002_b', '0003_c']);
  });

  it('keeps each schema\'s migration history apart', async () => {
    const keys = freshSchema();
    const auth = freshSchema();
    await migrateToLatest(db, keys, { '0001_keys': logged(keys, 'keys') });
    await migrateToLatest(db, auth, { '0001_auth': logged(auth, 'auth') });

    expect(await recorded(keys)).toEqual(['0001_keys']);
    expect(await recorded(auth)).toEqual(['0001_auth']);
  });

  it('throws naming the schema and the failing migration, and leaves the run undone', async () => {
    const schema = freshSchema();
    const failing: Migration = {
      async up(trx) {
        await sql`INSERT INTO ${sql.id(schema, 'missing')} VALUES (1)`.execute(trx);
      },
    };

    await expect(migrateToLatest(db, schema, { '0001_ok': logged(schema, 'ok'), '0002_broken': failing })).rejects.toThrow(
      `migrations of schema "${schema}" failed (0002_broken): error: relation "${schema}.missing" does not exist`,
    );
    expect(await tableExists(schema, 'ran')).toBe(false);
    expect(await recorded(schema)).toEqual([]);
  });

  it('runs each migration once when replicas start together', async () => {
    const schema = freshSchema();
    const replica = createKysely<unknown>({ url, max: 2 });
    const migrations = { '0001_a': logged(schema, 'a'), '0002_b': logged(schema, 'b') };
    try {
      await Promise.all([migrateToLatest(db, schema, migrations), migrateToLatest(replica, schema, migrations)]);
    } finally {
      await replica.destroy();
    }

    expect(await ran(schema)).toEqual(['a', 'b']);
    expect(await recorded(schema)).toEqual(['0001_a', '0002_b']);
  });
});
