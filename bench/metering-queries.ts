import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { AlertsRequest, LastUsedRequest, parse, UsageEventsRequest, UsageWindowsRequest, type UsageRecorded } from '@keyplane/contracts';
import { createKysely, dropDatabase, ensureDatabase, migrateToLatest } from '@keyplane/database';
import { DEFAULT_THRESHOLDS } from '../apps/metering/src/alerts/thresholds.js';
import { HourHistory } from '../apps/metering/src/alerts/hour-history.js';
import { migrations } from '../apps/metering/src/db/migrations/index.js';
import { METERING_SCHEMA, type Database } from '../apps/metering/src/db/schema.js';
import { storeBatch } from '../apps/metering/src/ingest/store-batch.js';
import type { ReadEntry } from '../apps/metering/src/ingest/read-usage-message.js';
import { listAlerts } from '../apps/metering/src/queries/alerts.query.js';
import { decodePosition, encodePosition, type Listing } from '../apps/metering/src/queries/cursor.js';
import { lastUsed } from '../apps/metering/src/queries/last-used.query.js';
import { usageEvents } from '../apps/metering/src/queries/usage-events.query.js';
import { usageWindows } from '../apps/metering/src/queries/usage-windows.query.js';
import { windowRange } from '../apps/metering/src/queries/window-range.js';
import { RetentionSweeper } from '../apps/metering/src/retention/retention-sweeper.js';
import { runScript } from './isolated-run.js';
import { answerDigest, capturingKysely, explainLast, integer, md5Upper, median, migrationsUpTo, planShape, rowsRead } from './query-plans.js';

// Metering's read side and retention sweep on production-sized tables: fills a database of its
// own with set-based SQL (METERING_SCALE_EVENTS usage events, 3,000,000 by default, over
// METERING_SCALE_KEYS keys, 1,000, and METERING_SCALE_DAYS days, 31, a third of them on one hot
// key; the windows, last-used times and sources ingest would fold from them; a year of alerts),
// then runs every query the gateway's usage, events and alerts endpoints and key listings ask
// metering for through the service's own query functions, and reports for each the rows it
// returns, the rows Postgres read to find them (EXPLAIN ANALYZE of the very statement) and the
// time. Last, the retention sweep deletes the oldest day while ingest stores batches beside it.
// Run with
//   npm run build && node --import ./tools/register-paths.js dist/bench/metering-queries.js
// Filling 3,000,000 events takes about two minutes on the 2-core dev machine. The database is
// dropped at the end unless METERING_SCALE_KEEP=1 (then its URL is printed, to EXPLAIN by hand;
// METERING_SCALE_DATABASE_URL=<it> METERING_SCALE_FILL=0 measures it again, its oldest day swept).
// METERING_SCALE_UPTO=<migration name> fills the tables under the migrations up to that one and
// applies the rest afterwards, timing them, as a deploy would on a full table; the queries then
// run on the latest schema. METERING_SCALE_END (an ISO time, default now) fixes the data, so two
// runs can be compared row for row: each case prints a digest of its answer.

const events = integer('METERING_SCALE_EVENTS', 3_000_000);
const keyCount = integer('METERING_SCALE_KEYS', 1000);
const days = integer('METERING_SCALE_DAYS', 31);
const end = new Date(process.env.METERING_SCALE_END ?? new Date().toISOString());
const upTo = process.env.METERING_SCALE_UPTO;
const keep = process.env.METERING_SCALE_KEEP === '1';
/** 0: measure a database an earlier run kept (with the same settings), without migrating or filling it. */
const fresh = process.env.METERING_SCALE_FILL !== '0';
const databaseUrl = process.env.METERING_SCALE_DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/kp_metering_scale_${Math.random().toString(16).slice(2, 10)}`;
const DAY_MS = 86_400_000;

/** Key n's id and its account's: keys 10n..10n+9 share account n. Key `keyCount` took over from key 1, three days before the end. */
const keyId = (n: number) => `key_${md5Upper(`k${n}`)}`;
const accountOf = (n: number) => `acc_${md5Upper(`a${n === keyCount ? 0 : Math.floor(n / 10)}`)}`;

/**
 * The events in time order, as ingest stores them. Outcomes as in life: the hot key (0) is
 * sometimes rate-limited and never refused otherwise, key 1 (10 %) was replaced by key
 * `keyCount` three days before the end and is idle since, most keys are only ever allowed, every
 * fourth hits its limit now and then, every tenth lacks a permission now and then, every fiftieth
 * was revoked and is still tried; 1 % are unknown keys.
 */
async function fill(db: Kysely<Database>) {
  const span = `${days} days`;
  await sql`SELECT setseed(0.42)`.execute(db);
  await sql`CREATE TEMP TABLE k AS
    SELECT n, 'key_' || upper(substr(md5('k' || n), 1, 26)) AS key_id,
           'acc_' || upper(substr(md5('a' || CASE WHEN n = ${keyCount} THEN 0 ELSE n / 10 END), 1, 26)) AS account_id
    FROM generate_series(0, ${keyCount}) n`.execute(db);
  await sql`CREATE UNIQUE INDEX ON k (n)`.execute(db);
  await sql`
    INSERT INTO metering.usage_events (event_id, occurred_at, key_id, account_id, environment, outcome, reason, permission, method, path,
                                       client_ip, user_agent, request_id, hour_used, day_used, hour_limit, day_limit, stream_seq, received_at)
    SELECT lpad(to_hex((extract(epoch FROM g.t) * 1000)::bigint), 12, '0') || upper(substr(md5(g.i::text), 1, 14)),
           g.t, k.key_id, k.account_id, CASE WHEN k.key_id IS NOT NULL THEN 'live' END, o.outcome,
           CASE o.outcome WHEN 'allowed' THEN 'ok' WHEN 'forbidden' THEN 'missing_permission' WHEN 'rate_limited' THEN 'hour_limit'
                          ELSE CASE WHEN k.key_id IS NULL THEN 'unknown_key' ELSE 'revoked' END END,
           'FLOWS:READ', 'GET', '/v1/flows/' || (g.i % 5000), '198.51.' || (coalesce(k.n, 999) % 200) || '.' || (g.i % 4 + 1),
           'Mozilla/5.0 (X11; Linux x86_64) keyplane-client/2.3.1 node/22.11.0', 'req_' || upper(substr(md5('r' || g.i), 1, 26)),
           CASE WHEN o.outcome IN ('allowed', 'forbidden') THEN g.i % 1000 END, CASE WHEN o.outcome IN ('allowed', 'forbidden') THEN g.i % 10000 END,
           CASE WHEN k.key_id IS NOT NULL THEN 1000 END, CASE WHEN k.key_id IS NOT NULL THEN 10000 END,
           g.i, g.t + interval '40 milliseconds'
    FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3,
                 date_trunc('milliseconds', ${end}::timestamptz - ${span}::interval + (i::float8 / ${events}) * ${span}::interval) AS t
          FROM generate_series(1, ${events}) i) g
    LEFT JOIN k ON k.n = CASE WHEN g.r1 < 0.33 THEN 0
                              WHEN g.r1 < 0.43 THEN CASE WHEN g.t > ${end}::timestamptz - interval '3 days' THEN ${keyCount} ELSE 1 END
                              WHEN g.r1 > 0.99 THEN NULL
                              ELSE 2 + floor(${keyCount - 2.001} * g.r2 * g.r2)::int END
    CROSS JOIN LATERAL (SELECT CASE WHEN k.n IS NULL THEN 'unauthorized'
                                    WHEN k.n = 0 THEN CASE WHEN g.r3 < 0.97 THEN 'allowed' ELSE 'rate_limited' END
                                    WHEN k.n % 50 = 7 AND g.r3 < 0.3 THEN 'unauthorized'
                                    WHEN k.n % 10 = 3 AND g.r3 < 0.08 THEN 'forbidden'
                                    WHEN k.n % 4 = 0 AND g.r3 > 0.98 THEN 'rate_limited'
                                    ELSE 'allowed' END AS outcome) o
    ORDER BY g.i`.execute(db);
  await sql`
    INSERT INTO metering.usage_windows (key_id, granularity, window_start, account_id, requests, allowed, forbidden, rate_limited, unauthorized)
    SELECT key_id, gr, date_trunc(gr, occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', min(account_id), count(*),
           count(*) FILTER (WHERE outcome = 'allowed'), count(*) FILTER (WHERE outcome = 'forbidden'),
           count(*) FILTER (WHERE outcome = 'rate_limited'), count(*) FILTER (WHERE outcome = 'unauthorized')
    FROM metering.usage_events CROSS JOIN (VALUES ('hour'), ('day')) AS g (gr)
    WHERE key_id IS NOT NULL GROUP BY 1, 2, 3`.execute(db);
  await sql`
    INSERT INTO metering.key_last_used (key_id, account_id, last_used_at)
    SELECT key_id, min(account_id), max(occurred_at) FROM metering.usage_events WHERE key_id IS NOT NULL GROUP BY key_id`.execute(db);
  await sql`
    INSERT INTO metering.key_sources (key_id, client_ip, first_seen_at, last_seen_at, requests)
    SELECT key_id, client_ip, min(occurred_at), max(occurred_at), count(*) FROM metering.usage_events WHERE key_id IS NOT NULL GROUP BY 1, 2`.execute(db);
  // Alerts are kept for ever: a year of them. quota_exhausted every hour on the hot key and in 2 %
  // of the other keys' hours, a few new_source, permission_probe and revoked_key_use, and an
  // auth_failure_burst of no account every hour.
  await sql`
    INSERT INTO metering.alerts (id, dedup_key, type, severity, key_id, account_id, detected_at, summary, evidence, created_at, published_at)
    SELECT 'alrt_' || lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || upper(substr(md5(type || subject || at::text), 1, 14)),
           type || ':' || subject || ':' || date_trunc('hour', at), type, CASE type WHEN 'revoked_key_use' THEN 'critical' ELSE 'warning' END,
           key_id, account_id, at, type || ' on ' || subject, jsonb_build_object('window', 'hour', 'requests', 1000, 'limit', 1000), at, at
    FROM (
      SELECT h AS at, 'quota_exhausted' AS type, k.key_id AS subject, k.key_id, k.account_id FROM hours JOIN k ON k.n = 0 OR random() < 0.02
      UNION ALL SELECT h + interval '7 minutes', 'new_source', k.key_id, k.key_id, k.account_id FROM hours JOIN k ON random() < 0.002
      UNION ALL SELECT h + interval '13 minutes', 'permission_probe', k.key_id, k.key_id, k.account_id FROM hours JOIN k ON random() < 0.001
      UNION ALL SELECT h + interval '21 minutes', 'revoked_key_use', k.key_id, k.key_id, k.account_id FROM hours JOIN k ON random() < 0.00004
      UNION ALL SELECT h + interval '3 minutes', 'auth_failure_burst', 'ip:203.0.113.' || extract(hour FROM h), NULL, NULL FROM hours
    ) a
    ON CONFLICT (dedup_key) DO NOTHING`.execute(db);
}

/** A year of hours before the end, for the alerts. */
async function makeHours(db: Kysely<Database>) {
  await sql`CREATE TEMP TABLE hours AS SELECT generate_series(date_trunc('hour', ${end}::timestamptz - interval '365 days'), ${end}::timestamptz, interval '1 hour') AS h`.execute(db);
}

interface Case {
  name: string;
  run: (db: Kysely<Database>) => Promise<unknown>;
  /** How many items the answer holds. */
  size: (answer: never) => number;
}

function eventsCase(name: string, request: Record<string, unknown>): Case {
  return {
    name,
    run: (db) => {
      const parsed = parse(UsageEventsRequest, request);
      if (!parsed.ok) throw new Error(`${name}: ${parsed.error.details}`);
      return usageEvents(db, parsed.value, parsed.value.cursor === undefined ? null : decodePosition('events', parsed.value.cursor));
    },
    size: (answer: { data: unknown[] }) => answer.data.length,
  };
}

function alertsCase(name: string, request: Record<string, unknown>): Case {
  return {
    name,
    run: (db) => {
      const parsed = parse(AlertsRequest, request);
      if (!parsed.ok) throw new Error(`${name}: ${parsed.error.details}`);
      return listAlerts(db, parsed.value, parsed.value.cursor === undefined ? null : decodePosition('alerts', parsed.value.cursor));
    },
    size: (answer: { data: unknown[] }) => answer.data.length,
  };
}

function windowsCase(name: string, request: Record<string, unknown>): Case {
  return {
    name,
    run: (db) => {
      const parsed = parse(UsageWindowsRequest, request);
      if (!parsed.ok) throw new Error(`${name}: ${parsed.error.details}`);
      const range = windowRange(parsed.value.from, parsed.value.to, parsed.value.granularity);
      if (!range.ok) throw new Error(`${name}: ${range.details}`);
      return usageWindows(db, parsed.value, range.starts);
    },
    size: (answer: { data: Array<{ requests: number }> }) => answer.data.filter((window) => window.requests > 0).length,
  };
}

function cases(): Case[] {
  const iso = (msBeforeEnd: number) => new Date(end.getTime() - msBeforeEnd).toISOString();
  const cursorAt = (listing: Listing, msBeforeEnd: number) => encodePosition(listing, { at: iso(msBeforeEnd), id: '~' });
  const hot = { accountId: accountOf(0), keyId: keyId(0) };
  const retired = { accountId: accountOf(1), keyId: keyId(1) };
  const medium = { accountId: accountOf(2), keyId: keyId(2) };
  const small = { accountId: accountOf(500), keyId: keyId(500) };
  return [
    eventsCase('events: hot key, first page', hot),
    eventsCase('events: hot key, 1000 from a cursor 15 days back', { ...hot, limit: 1000, cursor: cursorAt('events', 15 * DAY_MS) }),
    eventsCase('events: hot key, outcome=rate_limited (3 %)', { ...hot, outcome: 'rate_limited' }),
    eventsCase('events: hot key, outcome=unauthorized (none)', { ...hot, outcome: 'unauthorized' }),
    eventsCase('events: hot key, one day, outcome=rate_limited, 1000', { ...hot, from: iso(10 * DAY_MS), to: iso(9 * DAY_MS), outcome: 'rate_limited', limit: 1000 }),
    eventsCase('events: key idle for 3 days (10 % before), first page', retired),
    eventsCase('events: key idle for 3 days, last 7 days', { ...retired, from: iso(7 * DAY_MS), to: end.toISOString() }),
    eventsCase('events: medium key, one week, 1000', { ...medium, from: iso(14 * DAY_MS), to: iso(7 * DAY_MS), limit: 1000 }),
    eventsCase('events: small key, first page', small),
    eventsCase('events: small key, outcome=rate_limited', { ...small, outcome: 'rate_limited' }),
    windowsCase('usage: hot key, 93 days of hours', { ...hot, granularity: 'hour', from: iso(93 * DAY_MS - 3_600_000), to: end.toISOString() }),
    windowsCase('usage: hot key, 30 days', { ...hot, granularity: 'day', from: iso(30 * DAY_MS), to: end.toISOString() }),
    windowsCase('usage: small key, 24 hours', { ...small, granularity: 'hour', from: iso(DAY_MS), to: end.toISOString() }),
    {
      name: 'last-used: a page of 100 keys',
      run: (db) => {
        const request = parse(LastUsedRequest, { accountId: accountOf(0), keyIds: Array.from({ length: 100 }, (_, n) => keyId(n)) });
        if (!request.ok) throw new Error(request.error.details);
        return lastUsed(db, request.value);
      },
      size: (answer: Record<string, string>) => Object.keys(answer).length,
    },
    alertsCase('alerts: hot account, first page', { accountId: accountOf(0) }),
    alertsCase('alerts: hot account, since 7 days, from a cursor 1 day back', { accountId: accountOf(0), since: iso(7 * DAY_MS), cursor: cursorAt('alerts', DAY_MS) }),
    alertsCase('alerts: hot account, type=revoked_key_use', { accountId: accountOf(0), type: 'revoked_key_use' }),
    alertsCase('alerts: hot account, keyId of a quiet key', { accountId: accountOf(0), keyId: keyId(5) }),
    alertsCase('alerts: hot account, hot key, type=permission_probe', { ...hot, type: 'permission_probe' }),
    alertsCase('alerts: small account, first page', { accountId: accountOf(500) }),
  ];
}


async function measure(pool: pg.Pool) {
  const { db, lastQuery } = capturingKysely<Database>(pool, METERING_SCHEMA);
  console.log('| case | items | rows read | first ms | median ms | plan | digest |');
  console.log('|---|---|---|---|---|---|---|');
  for (const test of cases()) {
    const times: number[] = [];
    let answer: unknown;
    for (let run = 0; run < 6; run++) {
      const started = performance.now();
      answer = await test.run(db);
      times.push(performance.now() - started);
    }
    const plan = await explainLast(pool, lastQuery());
    const digest = answerDigest(answer);
    console.log(
      `| ${test.name} | ${test.size(answer as never)} | ${rowsRead(plan)} | ${times[0]!.toFixed(1)} | ${median(times.slice(1)).toFixed(1)} | ${planShape(plan)} | ${digest} |`,
    );
  }
}

/** Batches of 500 current events stored by ingest's own transaction, back to back with 50 ms between. */
function ingestBeside(db: Kysely<Database>) {
  const durations: Array<{ phase: string; ms: number }> = [];
  let phase = 'before';
  let running = true;
  let seq = 10 * events;
  const batch = (): ReadEntry[] =>
    Array.from({ length: 500 }, (_, index) => {
      seq++;
      const n = index % 3 === 0 ? 0 : 2 + (seq % (keyCount - 2));
      const event: UsageRecorded = {
        type: 'UsageRecorded',
        version: 1,
        eventId: `ingest${String(seq).padStart(20, '0')}`,
        occurredAt: new Date(end.getTime() + seq - 10 * events).toISOString(),
        keyId: keyId(n),
        accountId: accountOf(n),
        environment: 'live',
        outcome: 'allowed',
        reason: 'ok',
        permission: 'FLOWS:READ',
        method: 'GET',
        path: '/v1/flows',
        clientIp: `198.51.${n % 200}.1`,
        userAgent: 'metering-queries',
        requestId: `req_${seq}`,
        hourUsed: 1,
        dayUsed: 1,
        hourLimit: 1000,
        dayLimit: 10000,
      };
      return { seq, position: 0, data: new Uint8Array(), read: { ok: true, event } };
    });
  const hourHistory = new HourHistory();
  const done = (async () => {
    while (running) {
      const entries = batch();
      const started = performance.now();
      await storeBatch(db, entries, { thresholds: DEFAULT_THRESHOLDS, webhook: false, hourHistory });
      durations.push({ phase, ms: performance.now() - started });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    setPhase: (next: string) => {
      phase = next;
    },
    stop: async () => {
      running = false;
      await done;
      return durations;
    },
  };
}

async function retention(pool: pg.Pool) {
  const statements: number[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (/DELETE FROM metering\.usage_events/.test(event.query.sql)) statements.push(event.queryDurationMillis);
    },
  }).withSchema(METERING_SCHEMA);
  const ingestDb = createKysely<Database>({ url: databaseUrl, max: 1 }).withSchema(METERING_SCHEMA);
  const ingest = ingestBeside(ingestDb);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  ingest.setPhase('during');
  let waiting = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const { rows } = await pool.query<{ waiting: number }>(`SELECT count(*)::int AS waiting FROM pg_locks WHERE NOT granted`);
      waiting = Math.max(waiting, rows[0]!.waiting);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never;
  const sweeper = new RetentionSweeper({ db, logger, retentionDays: days - 1, intervalMs: DAY_MS });
  const started = performance.now();
  const deleted = await sweeper.sweep(end.getTime());
  const sweepMs = performance.now() - started;
  ingest.setPhase('after');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  watching = false;
  await watcher;
  const durations = await ingest.stop();
  await ingestDb.destroy();
  console.log(
    `\nretention sweep: ${deleted} events deleted in ${sweepMs.toFixed(0)} ms, ${statements.length} DELETE statements ` +
      `(median ${median(statements).toFixed(1)} ms, longest ${Math.max(...statements).toFixed(1)} ms); most lock waits seen at once: ${waiting}`,
  );
  for (const phase of ['before', 'during', 'after']) {
    const ms = durations.filter((entry) => entry.phase === phase).map((entry) => entry.ms);
    if (ms.length > 0) console.log(`ingest batches of 500 ${phase} the sweep: ${ms.length}, median ${median(ms).toFixed(1)} ms, longest ${Math.max(...ms).toFixed(1)} ms`);
  }
}

async function main() {
  await ensureDatabase(databaseUrl);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }) });
    const first = migrationsUpTo(migrations, upTo);
    let started = performance.now();
    if (fresh) {
      await migrateToLatest(db, METERING_SCHEMA, first);
      await makeHours(db);
      await fill(db);
      for (const table of ['usage_events', 'usage_windows', 'key_last_used', 'key_sources', 'alerts']) await sql`VACUUM ANALYZE ${sql.table(`metering.${table}`)}`.execute(db);
      console.log(`filled ${events} events over ${keyCount} keys and ${days} days in ${((performance.now() - started) / 1000).toFixed(0)} s, up to ${end.toISOString()}`);
    }
    if (upTo !== undefined) {
      started = performance.now();
      await migrateToLatest(db, METERING_SCHEMA, migrations);
      await sql`ANALYZE metering.usage_events`.execute(db);
      console.log(`migrations after ${upTo} applied to the full tables in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    await db.destroy();
    await measure(pool);
    await retention(pool);
    if (keep) console.log(`\nkept ${databaseUrl}`);
  } finally {
    await pool.end();
    if (!keep) await dropDatabase(databaseUrl);
  }
}

runScript(main);
