import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { AuditEventsRequest, encodeCursor, parse, type KeyIssued } from '@keyplane/contracts';
import { dropDatabase, ensureDatabase, migrateToLatest } from '@keyplane/database';
import { storeKeyEvents } from '../apps/keys/src/commands/store-key-events.js';
import { migrations } from '../apps/keys/src/db/migrations/index.js';
import { SCHEMA, type Database } from '../apps/keys/src/db/schema.js';
import { evolve } from '../apps/keys/src/key/evolve.js';
import { initialState, type IssuedKeyState } from '../apps/keys/src/key/state.js';
import { auditEvents } from '../apps/keys/src/queries/audit-events.js';
import { runScript } from './isolated-run.js';
import { answerDigest, capturingKysely, explainLast, integer, md5Upper, median, migrationsUpTo, planShape, rowsRead } from './query-plans.js';

// The keys service's audit query (`keys.query.audit`, GET /v1/audit/events) on a production-sized
// event store: fills a database of its own with set-based SQL (one big account of
// KEYS_AUDIT_BIG_KEYS keys, 200,000 by default, and KEYS_AUDIT_SMALL_ACCOUNTS accounts of 10 keys,
// 1,000, issued over KEYS_AUDIT_DAYS days, 90; about 1.5 lifecycle events a key, in the events'
// own JSON shapes), then runs every way the endpoint can be asked through the service's own query
// function, and reports for each the events it returns, the rows Postgres read to find them
// (EXPLAIN ANALYZE of the very statement) and the time. Last, it issues keys through the
// command's own transaction (storeKeyEvents) in an account of their own, timing the command and
// its INSERT into keys.events: what every command pays for the events table's indexes.
// Run with
//   npm run build && node --import ./tools/register-paths.js dist/bench/keys-audit-queries.js
// Filling takes about a minute on the 2-core dev machine. The database is dropped at the end
// unless KEYS_AUDIT_KEEP=1 (then its URL is printed, to EXPLAIN by hand). KEYS_AUDIT_UPTO=<migration
// name> fills the tables under the migrations up to that one, measures, applies the rest (timing
// them, as a deploy would on a full table) and measures again, so one run shows before and after;
// each case prints a digest of its answer, the same on both sides. KEYS_AUDIT_END (an ISO time,
// default now) fixes the data, so two runs can be compared row for row.

const bigKeys = integer('KEYS_AUDIT_BIG_KEYS', 200_000);
const smallAccounts = integer('KEYS_AUDIT_SMALL_ACCOUNTS', 1000);
const keysPerSmall = 10;
const days = integer('KEYS_AUDIT_DAYS', 90);
const commands = integer('KEYS_AUDIT_COMMANDS', 500);
const end = new Date(process.env.KEYS_AUDIT_END ?? new Date().toISOString());
const upTo = process.env.KEYS_AUDIT_UPTO;
const keep = process.env.KEYS_AUDIT_KEEP === '1';
const databaseUrl = process.env.KEYS_AUDIT_DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/kp_keys_audit_${Math.random().toString(16).slice(2, 10)}`;
const DAY_MS = 86_400_000;

/** Key n's id; keys below bigKeys belong to account 0, the others ten by ten to accounts 1.. */
const keyId = (n: number) => `key_${md5Upper(`k${n}`)}`;
const accountId = (a: number) => `acc_${md5Upper(`a${a}`)}`;

/**
 * Every key issued at a time spread evenly over the days; later on, 30 % rotated, 10 % given
 * new permissions, 2 % renamed, 1 % new rate limits, 8 % revoked (last). Each account's
 * admin key is the actor, 5 % of revocations are `system`. Stored in time order, as appends are.
 */
async function fill(db: Kysely<Database>) {
  const span = `${days} days`;
  const total = bigKeys + smallAccounts * keysPerSmall;
  await sql`SELECT setseed(0.42)`.execute(db);
  await sql`CREATE TEMP TABLE k AS
    SELECT n, 'key_' || upper(substr(md5('k' || n), 1, 26)) AS key_id, a,
           'acc_' || upper(substr(md5('a' || a), 1, 26)) AS account_id,
           'key_' || upper(substr(md5('admin' || a), 1, 26)) AS admin_id,
           date_trunc('milliseconds', ${end}::timestamptz - ${span}::interval + random() * ${span}::interval) AS issued_at,
           random() AS r1, random() AS r2, random() AS r3
    FROM (SELECT n, CASE WHEN n < ${bigKeys} THEN 0 ELSE 1 + (n - ${bigKeys}) / ${keysPerSmall} END AS a FROM generate_series(0, ${total - 1}) n) s`.execute(db);
  await sql`CREATE TEMP TABLE ev AS
    SELECT k.*, e.type, e.ord,
           date_trunc('milliseconds', k.issued_at + (${end}::timestamptz - k.issued_at) * e.at) AS t
    FROM k CROSS JOIN LATERAL (VALUES
      ('KeyIssued', 0, 0.0::float8, true),
      ('KeySecretRotated', 1, 0.1 + 0.5 * k.r2, k.r1 < 0.3),
      ('KeyPermissionsChanged', 2, 0.1 + 0.6 * k.r3, k.r1 >= 0.3 AND k.r1 < 0.4),
      ('KeyRenamed', 3, 0.2 + 0.5 * k.r3, k.r1 >= 0.4 AND k.r1 < 0.42),
      ('KeyRateLimitsChanged', 4, 0.3 + 0.4 * k.r2, k.r1 >= 0.42 AND k.r1 < 0.43),
      ('KeyRevoked', 5, 0.8 + 0.2 * k.r3, k.r2 < 0.08)
    ) AS e (type, ord, at, happens)
    WHERE e.happens`.execute(db);
  await sql`ANALYZE k`.execute(db);
  await sql`ANALYZE ev`.execute(db);
  const secret = (salt: string) => sql`jsonb_build_object(
      'secretHash', md5(${salt} || ev.n) || md5(${salt} || ev.n || 'x'),
      'displayPrefix', 'tv_live_' || substr(md5(${salt} || ev.n), 1, 4),
      'last4', substr(md5(${salt} || ev.n), 5, 4))`;
  await sql`
    INSERT INTO keys.events (stream_id, stream_version, event_id, type, data, occurred_at)
    SELECT 'key-' || key_id, version, event_id, type,
           jsonb_build_object('type', type, 'version', 1, 'eventId', event_id, 'keyId', key_id, 'accountId', account_id,
                              'occurredAt', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                              'actor', CASE WHEN type = 'KeyRevoked' AND r3 < 0.05 THEN 'system' ELSE admin_id END,
                              'data', body),
           t
    FROM (
      SELECT ev.*, row_number() OVER (PARTITION BY ev.n ORDER BY ev.ord) AS version,
             'evt_' || upper(substr(md5('e' || ev.n || ev.type), 1, 26)) AS event_id,
             CASE ev.type
               WHEN 'KeyIssued' THEN jsonb_build_object(
                 'name', 'key ' || ev.n, 'environment', 'live', 'permissions', jsonb_build_array('FLOWS:READ', 'FLOWS:WRITE'),
                 'rateLimits', jsonb_build_object('hour', 1000, 'day', 10000),
                 'expiresAt', CASE WHEN ev.r3 < 0.2 THEN to_char((ev.t + interval '365 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
                 'secret', ${secret('s0')})
               WHEN 'KeySecretRotated' THEN jsonb_build_object(
                 'secret', ${secret('s1')}, 'previousSecretHash', md5('s0' || ev.n) || md5('s0' || ev.n || 'x'),
                 'previousKeyExpiresAt', to_char((ev.t + interval '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
               WHEN 'KeyPermissionsChanged' THEN jsonb_build_object('permissions', jsonb_build_array('FLOWS:READ'))
               WHEN 'KeyRenamed' THEN jsonb_build_object('name', 'renamed ' || ev.n)
               WHEN 'KeyRateLimitsChanged' THEN jsonb_build_object('rateLimits', jsonb_build_object('hour', 500, 'day', 5000))
               ELSE jsonb_build_object('reason', CASE WHEN ev.r3 < 0.5 THEN 'leaked' END)
             END AS body
      FROM ev
    ) s
    ORDER BY t, n, ord`.execute(db);
  // The read model, as the commands left it: the command path reads and writes it.
  await sql`
    INSERT INTO keys.api_keys (id, account_id, name, environment, display_prefix, last4, permissions, rate_limit_hour, rate_limit_day,
                               status, created_at, expires_at, revoked_at, secret_hash, previous_secret_hash, previous_key_expires_at, version)
    SELECT k.key_id, k.account_id, coalesce(x.renamed, 'key ' || k.n), 'live', i.data->'data'->'secret'->>'displayPrefix', i.data->'data'->'secret'->>'last4',
           CASE WHEN x.permissions THEN ARRAY['FLOWS:READ'] ELSE ARRAY['FLOWS:READ', 'FLOWS:WRITE'] END,
           CASE WHEN x.limits THEN 500 ELSE 1000 END, CASE WHEN x.limits THEN 5000 ELSE 10000 END,
           CASE WHEN x.revoked_at IS NULL THEN 'active' ELSE 'revoked' END, k.issued_at, (i.data->'data'->>'expiresAt')::timestamptz, x.revoked_at,
           coalesce(r.data->'data'->'secret'->>'secretHash', i.data->'data'->'secret'->>'secretHash'), r.data->'data'->>'previousSecretHash',
           (r.data->'data'->>'previousKeyExpiresAt')::timestamptz, x.version
    FROM k
    JOIN keys.events i ON i.stream_id = 'key-' || k.key_id AND i.stream_version = 1
    LEFT JOIN keys.events r ON r.stream_id = 'key-' || k.key_id AND r.type = 'KeySecretRotated'
    JOIN (SELECT n, count(*)::int AS version, bool_or(type = 'KeyPermissionsChanged') AS permissions, bool_or(type = 'KeyRateLimitsChanged') AS limits,
                 max(t) FILTER (WHERE type = 'KeyRevoked') AS revoked_at, max('renamed ' || n) FILTER (WHERE type = 'KeyRenamed') AS renamed
          FROM ev GROUP BY n) x ON x.n = k.n`.execute(db);
}

interface Case {
  name: string;
  request: Record<string, unknown>;
}

function cases(): Case[] {
  const iso = (msBeforeEnd: number) => new Date(end.getTime() - msBeforeEnd).toISOString();
  /** A position as the query hands it out: a time, and a store position past every real one. */
  const cursorAt = (msBeforeEnd: number) => encodeCursor([iso(msBeforeEnd), Number.MAX_SAFE_INTEGER]);
  const actor = (a: number) => ({ keyId: `key_${md5Upper(`admin${a}`)}`, accountId: accountId(a), environment: 'live', permissions: ['*'] });
  const big = actor(0);
  const small = actor(500);
  const oldKey = keyId(7); // issued at a random time: any key of the big account, read by id
  const smallKey = keyId(bigKeys + 499 * keysPerSmall + 3);
  return [
    { name: 'big account, first page', request: { actor: big } },
    { name: 'big account, 1000 from a cursor 45 days back', request: { actor: big, limit: 1000, cursor: cursorAt(45 * DAY_MS) } },
    { name: 'big account, cursor 89 days back', request: { actor: big, cursor: cursorAt(89 * DAY_MS) } },
    { name: 'big account, keyId', request: { actor: big, keyId: oldKey } },
    { name: 'big account, keyId of another account', request: { actor: big, keyId: smallKey } },
    { name: 'big account, keyId, type=KeyIssued', request: { actor: big, keyId: oldKey, type: 'KeyIssued' } },
    { name: 'big account, keyId, type=KeyRevoked (none)', request: { actor: big, keyId: oldKey, type: 'KeyRevoked' } },
    { name: 'big account, type=KeySecretRotated (20 %)', request: { actor: big, type: 'KeySecretRotated' } },
    { name: 'big account, type=KeyRevoked (5 %)', request: { actor: big, type: 'KeyRevoked' } },
    { name: 'big account, type=KeyRateLimitsChanged (0.7 %)', request: { actor: big, type: 'KeyRateLimitsChanged' } },
    { name: 'big account, type=KeyRenamed, 1000 from a cursor 30 days back', request: { actor: big, type: 'KeyRenamed', limit: 1000, cursor: cursorAt(30 * DAY_MS) } },
    { name: 'big account, last 24 hours', request: { actor: big, from: iso(DAY_MS), to: end.toISOString() } },
    { name: 'big account, one day 60 days back, 1000', request: { actor: big, from: iso(60 * DAY_MS), to: iso(59 * DAY_MS), limit: 1000 } },
    { name: 'big account, to 80 days back', request: { actor: big, to: iso(80 * DAY_MS) } },
    { name: 'big account, one week, type=KeyRevoked, 1000', request: { actor: big, from: iso(14 * DAY_MS), to: iso(7 * DAY_MS), type: 'KeyRevoked', limit: 1000 } },
    { name: 'big account, one day, type=KeyRateLimitsChanged', request: { actor: big, from: iso(30 * DAY_MS), to: iso(29 * DAY_MS), type: 'KeyRateLimitsChanged' } },
    { name: 'small account, first page', request: { actor: small } },
    { name: 'small account, type=KeyRevoked', request: { actor: small, type: 'KeyRevoked' } },
    { name: 'small account, keyId', request: { actor: small, keyId: smallKey } },
    { name: 'small account, last 30 days', request: { actor: small, from: iso(30 * DAY_MS) } },
  ];
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

async function measure(pool: pg.Pool, label: string) {
  const { db, lastQuery } = capturingKysely<Database>(pool, SCHEMA);
  console.log(`\n${label}\n`);
  console.log('| case | events | rows read | buffers | first ms | median ms | plan | digest |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const test of cases()) {
    const request = parse(AuditEventsRequest, test.request);
    if (!request.ok) throw new Error(`${test.name}: ${request.error.details}`);
    const times: number[] = [];
    let answer: unknown;
    for (let run = 0; run < 8; run++) {
      const started = performance.now();
      const result = await auditEvents(db, request.value);
      times.push(performance.now() - started);
      if (!result.ok) throw new Error(`${test.name}: ${result.error.details}`);
      answer = result.page;
    }
    const plan = await explainLast(pool, lastQuery());
    const buffers = (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
    const digest = answerDigest(answer);
    console.log(
      `| ${test.name} | ${(answer as { data: unknown[] }).data.length} | ${rowsRead(plan)} | ${buffers} | ${times[0]!.toFixed(1)} | ${median(times.slice(1)).toFixed(1)} | ${planShape(plan)} | ${digest} |`,
    );
  }
}

let issued = 0;

/** Keys issued one after another through the command's transaction, in an account no case reads. */
async function writeCost(pool: pg.Pool, label: string) {
  const inserts: number[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (/^insert into "keys"\."events"/.test(event.query.sql)) inserts.push(event.queryDurationMillis);
    },
  }).withSchema(SCHEMA);
  const account = `acc_${md5Upper('writer')}`;
  const times: number[] = [];
  for (let run = 0; run < commands; run++) {
    const n = issued++;
    const id = `key_${md5Upper(`writer${n}`)}`;
    const hash = createHash('sha256').update(`writer${n}`).digest('hex');
    const event: KeyIssued = {
      type: 'KeyIssued',
      version: 1,
      eventId: `evt_${md5Upper(`writer-event${n}`)}`,
      keyId: id,
      accountId: account,
      occurredAt: new Date(end.getTime() + n).toISOString(),
      actor: `key_${md5Upper('writer-admin')}`,
      data: {
        name: `writer ${n}`,
        environment: 'live',
        permissions: ['FLOWS:READ'],
        rateLimits: { hour: 1000, day: 10000 },
        expiresAt: null,
        secret: { secretHash: hash, displayPrefix: `tv_live_${hash.slice(0, 4)}`, last4: hash.slice(4, 8) },
      },
    };
    const started = performance.now();
    await storeKeyEvents(db, 0, [event], evolve(initialState(), event) as IssuedKeyState);
    times.push(performance.now() - started);
  }
  console.log(
    `\n${label}: ${commands} issue commands, median ${median(times).toFixed(2)} ms (p90 ${percentile(times, 0.9).toFixed(2)}); ` +
      `their INSERT into keys.events median ${median(inserts).toFixed(2)} ms (p90 ${percentile(inserts, 0.9).toFixed(2)})`,
  );
}

async function main() {
  await ensureDatabase(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }) });
    const first = migrationsUpTo(migrations, upTo);
    let started = performance.now();
    await migrateToLatest(db as Kysely<unknown>, SCHEMA, first);
    await fill(db);
    for (const table of ['events', 'api_keys']) await sql`VACUUM ANALYZE ${sql.table(`keys.${table}`)}`.execute(db);
    const { rows } = await pool.query<{ events: number }>('SELECT count(*)::int AS events FROM keys.events');
    console.log(
      `filled ${rows[0]!.events} events of ${bigKeys + smallAccounts * keysPerSmall} keys (${bigKeys} in account ${accountId(0)}, ` +
        `${smallAccounts} accounts of ${keysPerSmall}) over ${days} days in ${((performance.now() - started) / 1000).toFixed(0)} s, up to ${end.toISOString()}`,
    );
    if (upTo !== undefined) {
      await measure(pool, `migrations up to ${upTo}`);
      await writeCost(pool, `migrations up to ${upTo}`);
      started = performance.now();
      await migrateToLatest(db as Kysely<unknown>, SCHEMA, migrations);
      await sql`ANALYZE keys.events`.execute(db);
      console.log(`\nmigrations after ${upTo} applied to the full tables in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    await db.destroy();
    await measure(pool, 'all migrations');
    await writeCost(pool, 'all migrations');
    if (keep) console.log(`\nkept ${databaseUrl}`);
  } finally {
    await pool.end();
    if (!keep) await dropDatabase(databaseUrl);
  }
}

runScript(main);
