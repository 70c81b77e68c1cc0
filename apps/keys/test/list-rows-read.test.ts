import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import type { ListKeysRequest } from '@keyplane/contracts';
import { createKysely, migrateToLatest } from '@keyplane/database';
import { freshDatabase, type FreshDatabase } from '@keyplane/testing';
import { migrations } from '../src/db/migrations/index.js';
import type { Database } from '../src/db/schema.js';
import { listKeys } from '../src/queries/list-keys.js';

// What the key list reads in an account of many keys, from Postgres's own account of the plan:
// each filter should read about the rows it returns, not the account (bench/key-scale.ts
// measures the same at 100,000 keys; docs/benchmarks.md, Many keys).

const KEYS = 5_000;
const ACCOUNT = 'acc_many';
const NOW = '2026-11-27T12:00:00.000Z';

interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

/** Every row a scan produced or threw away. */
function rowsRead(node: PlanNode): number {
  const own = node['Node Type'].endsWith('Scan') && node['Node Type'] !== 'Bitmap Index Scan' ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), 0);
}

let database: FreshDatabase;
let root: Kysely<Database>;
let pool: pg.Pool;
/** Runs what listKeys builds, and remembers it to explain. */
let capturing: Kysely<Database>;
let lastQuery: CompiledQuery | undefined;

beforeAll(async () => {
  database = await freshDatabase('keys_rows_read');
  root = createKysely<Database>({ url: database.url, max: 2 });
  pool = new pg.Pool({ connectionString: database.url, max: 1 });
  capturing = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: (event) => void (lastQuery = event.query) });
  await migrateToLatest(root as Kysely<unknown>, 'keys', migrations);
  // Keys of one account, a few of them expired, most with an expiry still ahead or none.
  await sql`
    insert into keys.api_keys (id, account_id, name, environment, display_prefix, last4, permissions, rate_limit_hour, rate_limit_day,
                               status, created_at, expires_at, secret_hash, version)
    select 'key_' || lpad(n::text, 26, '0'), ${ACCOUNT}, 'k', 'live', 'tv_live_abcd', 'wxyz', array['FLOWS:READ'], 1000, 10000,
           'active', timestamptz '2026-01-01' + n * interval '1 minute',
           case when n % 1000 = 0 then timestamptz '2026-11-01' when n % 2 = 0 then timestamptz '2027-06-01' end,
           md5(n::text) || md5(n::text), 1
    from generate_series(1, ${KEYS}) as n`.execute(root);
  await sql`analyze keys.api_keys`.execute(root);
}, 60_000);

afterAll(async () => {
  await root?.destroy();
  await capturing?.destroy();
  await database?.drop();
});

async function readFor(status: ListKeysRequest['status']): Promise<{ returned: number; read: number }> {
  const request = { actor: { keyId: 'key_admin', accountId: ACCOUNT, environment: 'live', permissions: ['*'] }, limit: 100, status } as ListKeysRequest;
  const result = await listKeys(capturing.withSchema('keys'), request, NOW);
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  const { rows } = await pool.query(`explain (analyze, format json) ${lastQuery!.sql}`, [...lastQuery!.parameters]);
  const plan = (rows[0] as { 'QUERY PLAN': [{ Plan: PlanNode }] })['QUERY PLAN'][0].Plan;
  return { returned: result.page.data.length, read: rowsRead(plan) };
}

describe('the key list in an account of 5,000 keys', () => {
  it('status=expired reads about the keys it returns, not the account', async () => {
    const { returned, read } = await readFor('expired');
    expect(returned).toBe(KEYS / 1000);
    expect(read).toBeLessThan(50);
  });

  it('the first page of all keys reads about one page', async () => {
    const { returned, read } = await readFor(undefined);
    expect(returned).toBe(100);
    expect(read).toBeLessThan(200);
  });
});
