import pg from 'pg';
import { freshDatabase } from './fresh-database.js';

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const adminUrl = (url: string) => {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return admin.toString();
};

const exists = async (url: string) =>
  (await query(adminUrl(url), 'SELECT 1 FROM pg_database WHERE datname = $1', [new URL(url).pathname.slice(1)])).length === 1;

describe('freshDatabase', () => {
  it('creates a new, empty database named for the label, and drops it', async () => {
    const db = await freshDatabase('Key View');
    try {
      expect(new URL(db.url).pathname).toMatch(/^\/kp_key_view_[0-9a-f]{8}$/);
      expect(await exists(db.url)).toBe(true);
      expect(await query(db.url, "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")).toEqual([]);
    } finally {
      await db.drop();
    }

    expect(await exists(db.url)).toBe(false);
  });

  it('gives every call a database of its own', async () => {
    const [one, two] = await Promise.all([freshDatabase('same'), freshDatabase('same')]);
    try {
      expect(one.url).not.toBe(two.url);
      await query(one.url, 'CREATE TABLE only_here (n int)');
      expect(await query(two.url, "SELECT to_regclass('only_here') AS found")).toEqual([{ found: null }]);
    } finally {
      await Promise.all([one.drop(), two.drop()]);
    }
  });
});
