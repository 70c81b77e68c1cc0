import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { dropDatabase, ensureDatabase } from './create-database.js';

const server = process.env.TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';
const created: string[] = [];

/** A database name no other test file or run will use. */
function freshName(label: string): string {
  const name = `kp_db_${label}_${randomBytes(4).toString('hex')}`;
  created.push(name);
  return name;
}

async function exists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: `${server}/postgres` });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return found.rowCount === 1;
  } finally {
    await client.end();
  }
}

afterAll(async () => {
  await Promise.all(created.map((name) => dropDatabase(`${server}/${name}`)));
});

describe('ensureDatabase', () => {
  it('creates a missing database that can then be connected to', async () => {
    const name = freshName('create');
    expect(await exists(name)).toBe(false);

    await ensureDatabase(`${server}/${name}`);

    expect(await exists(name)).toBe(true);
    const client = new pg.Client({ connectionString: `${server}/${name}` });
    await client.connect();
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    await client.end();
    expect(rows).toEqual([{ db: name }]);
  });

  it('leaves an existing database and its data alone', async () => {
    const name = freshName('again');
    await ensureDatabase(`${server}/${name}`);
    const client = new pg.Client({ connectionString: `${server}/${name}` });
    await client.connect();
    await client.query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');

    await ensureDatabase(`${server}/${name}`);

    const { rows } = await client.query('SELECT n FROM kept');
    await client.end();
    expect(rows).toEqual([{ n: 7 }]);
  });

  it('is safe when replicas call it at the same time', async () => {
    const name = freshName('race');
    const url = `${server}/${name}`;

    await expect(Promise.all([ensureDatabase(url), ensureDatabase(url), ensureDatabase(url)])).resolves.toEqual([undefined, undefined, undefined]);

    expect(await exists(name)).toBe(true);
  });

  it.each(['kp bad', 'kp"bad', 'kp;DROP DATABASE postgres', ''])('rejects the name %j, naming it', async (name) => {
    await expect(ensureDatabase(`${server}/${encodeURIComponent(name)}`)).rejects.toThrow(
      `database name "${name}" may hold only letters, digits, "_" and "-"`,
    );
  });
});

describe('dropDatabase', () => {
  it('drops a database even while a session is open on it', async () => {
    const name = freshName('drop');
    await ensureDatabase(`${server}/${name}`);
    const session = new pg.Client({ connectionString: `${server}/${name}` });
    session.on('error', () => undefined);
    await session.connect();

    await dropDatabase(`${server}/${name}`);

    expect(await exists(name)).toBe(false);
    await session.end().catch(() => undefined);
  });

  it('does nothing for a database that does not exist', async () => {
    const name = freshName('absent');

    await expect(dropDatabase(`${server}/${name}`)).resolves.toBeUndefined();
    expect(await exists(name)).toBe(false);
  });
});
