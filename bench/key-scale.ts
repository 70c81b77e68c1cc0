import { readFileSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { encodeCursor, KeyEvent, ListKeysRequest, parse, type DecideRequest } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import { generateKey, hashKey } from '@keyplane/key-format';
import { encodeJson, RequestMux } from '@keyplane/nats';
import { SCHEMA, type Database } from '../apps/keys/src/db/schema.js';
import { getKey } from '../apps/keys/src/queries/get-key.js';
import { listKeys } from '../apps/keys/src/queries/list-keys.js';
import { startProcess, type Running } from '../tools/stack/process-group.js';
import { IsolatedRun, natsUrl, runScript } from './isolated-run.js';
import { bucketsBetween, histogramBuckets, quantile, type Buckets } from './metrics-text.js';
import { capturingKysely, explainLast, integer, median, planShape, rowsRead } from './query-plans.js';

// How Keyplane behaves with many keys: how long a new auth replica takes from its start to
// /readyz 200 (it replays the key event stream first), its RSS and heap once ready, auth.decide's
// latency, and the key listing and get endpoints through the gateway, at three sizes: the few keys
// made through the API, then KEY_SCALE_KEYS / 10 and KEY_SCALE_KEYS more (10,000 by default, about
// a minute and a half on the 2-core dev machine; 100,000 about three minutes, a third of it the keys
// relay publishing). Only one auth replica runs while a size is measured, so it answers every decision.
// The keys are stored the way the keys service stores them: their events appended to keys.events
// (the event store) and their rows in keys.api_keys (the read model) in one set-based statement
// each, in the events' own v1 shapes, all in the bootstrap admin's account; the keys service's own
// outbox relay then publishes them to the key event stream, with the headers an auth replica reads
// (position, stored-through, Nats-Msg-Id). Every distinct shape is checked against `KeyEvent` first.
// About 1.17 events a key: each issued, 10 % rotated, 5 % revoked, 2 % given other permissions.
// Run with
//   npm run build && node --import ./tools/register-paths.js dist/bench/key-scale.js
//   KEY_SCALE_KEYS=100000 node --import ./tools/register-paths.js dist/bench/key-scale.js
// KEY_SCALE_ROUNDS (3) replicas are started one after another at each size; KEY_SCALE_DECISIONS
// (300) decisions are timed on each, KEY_SCALE_REQUESTS (15) requests of each listing case.
// The database, the streams and every process are removed at the end.

const keyCount = integer('KEY_SCALE_KEYS', 10_000);
const rounds = integer('KEY_SCALE_ROUNDS', 3);
const decisions = integer('KEY_SCALE_DECISIONS', 300);
const requests = integer('KEY_SCALE_REQUESTS', 15);
const FEW_KEYS = 5;
/** What the auth Deployment's startupProbe allows (150 × 2 s): a replica slower than that would be restarted. */
const REPLICA_READY_TIMEOUT_MS = 300_000;
const run = new IsolatedRun('keyscale');
const { ns, databaseUrl } = run;
const admin = generateKey({ environment: 'live' }).key;
const ports = { gateway: 18280, gatewayMetrics: 19280, keys: 19281, auth: 19282, replica: 19283, metering: 19284 };
const gateway = `http://127.0.0.1:${ports.gateway}`;

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

async function api(path: string, key: string, init: RequestInit = {}): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${gateway}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
  const body = (await response.json()) as unknown;
  return { status: response.status, body, ms: performance.now() - started };
}

/** Keys made through the API: the few every replica holds, and one that reads the listing. */
async function createKey(permissions: string[], name: string): Promise<{ key: string; id: string; accountId: string }> {
  const limits = { hour: 1_000_000_000, day: 1_000_000_000 };
  const created = await api('/v1/api-keys', admin, { method: 'POST', body: JSON.stringify({ name, permissions, rateLimits: limits }) });
  if (created.status !== 201) throw new Error(`creating a key failed: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body as { key: string; id: string; accountId: string };
}

/**
 * The key events of keys `from` to `to` (excluded) and their read-model rows, as the keys service would have stored
 * them; returns the events the store holds. Key n was issued (n / keyCount) of 90 days ago: newest first.
 */
async function fill(db: Kysely<Database>, accountId: string, actor: string, from: number, to: number): Promise<number> {
  await sql`CREATE TEMP TABLE k AS
    SELECT n, 'key_' || upper(substr(md5('ks' || n), 1, 26)) AS key_id,
           date_trunc('milliseconds', now() - interval '1 hour' - (n::float8 / ${sql.lit(keyCount)}) * interval '90 days') AS issued_at,
           (n % 100) AS r, md5('s0' || n) || md5('s0x' || n) AS hash0, md5('s1' || n) || md5('s1x' || n) AS hash1
    FROM generate_series(${sql.lit(from)}, ${sql.lit(to - 1)}) n`.execute(db);
  const iso = (time: string) => sql.raw(`to_char((${time}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
  const secret = (hash: string) => sql.raw(`jsonb_build_object('secretHash', ${hash}, 'displayPrefix', 'tv_live_' || substr(${hash}, 1, 4), 'last4', substr(${hash}, 61, 4))`);
  const permissions = sql.raw(`CASE WHEN r % 3 = 0 THEN '["FLOWS:READ"]'::jsonb WHEN r % 3 = 1 THEN '["FLOWS:READ","FLOWS:WRITE"]'::jsonb ELSE '["RECORDS:*","PROMPTS:READ"]'::jsonb END`);
  await sql`
    INSERT INTO keys.events (stream_id, stream_version, event_id, type, data, occurred_at)
    SELECT 'key-' || key_id, row_number() OVER (PARTITION BY n ORDER BY ord), event_id, type,
           jsonb_build_object('type', type, 'version', 1, 'eventId', event_id, 'keyId', key_id, 'accountId', ${accountId}::text,
                              'occurredAt', ${iso('t')}, 'actor', ${actor}::text, 'data', body),
           t
    FROM (
      SELECT k.*, e.ord, e.type, 'evt_' || upper(substr(md5('e' || n || e.type), 1, 26)) AS event_id,
             k.issued_at + e.after AS t,
             CASE e.type
               WHEN 'KeyIssued' THEN jsonb_build_object('name', 'scale ' || n, 'environment', 'live', 'permissions', ${permissions},
                 'rateLimits', jsonb_build_object('hour', 1000, 'day', 10000),
                 'expiresAt', CASE WHEN r < 20 THEN ${iso("k.issued_at + interval '400 days'")} END, 'secret', ${secret('hash0')})
               WHEN 'KeySecretRotated' THEN jsonb_build_object('secret', ${secret('hash1')}, 'previousSecretHash', hash0,
                 'previousKeyExpiresAt', ${iso("k.issued_at + interval '1 day 1 hour'")})
               WHEN 'KeyPermissionsChanged' THEN jsonb_build_object('permissions', '["FLOWS:READ"]'::jsonb)
               ELSE jsonb_build_object('reason', 'leaked')
             END AS body
      FROM k CROSS JOIN LATERAL (VALUES
        ('KeyIssued', 0, interval '0'), ('KeySecretRotated', 1, interval '1 hour'),
        ('KeyPermissionsChanged', 2, interval '2 hours'), ('KeyRevoked', 3, interval '3 hours')
      ) AS e (type, ord, after)
      WHERE e.ord = 0 OR (e.ord = 1 AND r < 10) OR (e.ord = 2 AND r >= 10 AND r < 12) OR (e.ord = 3 AND r >= 95)
    ) s
    ORDER BY t, n, ord`.execute(db);
  await sql`
    INSERT INTO keys.api_keys (id, account_id, name, environment, display_prefix, last4, permissions, rate_limit_hour, rate_limit_day,
                               status, created_at, expires_at, revoked_at, secret_hash, previous_secret_hash, previous_key_expires_at, version)
    SELECT key_id, ${accountId}, 'scale ' || n, 'live', 'tv_live_' || substr(CASE WHEN r < 10 THEN hash1 ELSE hash0 END, 1, 4),
           substr(CASE WHEN r < 10 THEN hash1 ELSE hash0 END, 61, 4),
           CASE WHEN r >= 10 AND r < 12 THEN ARRAY['FLOWS:READ'] WHEN r % 3 = 0 THEN ARRAY['FLOWS:READ'] WHEN r % 3 = 1 THEN ARRAY['FLOWS:READ', 'FLOWS:WRITE']
                ELSE ARRAY['RECORDS:*', 'PROMPTS:READ'] END,
           1000, 10000, CASE WHEN r >= 95 THEN 'revoked' ELSE 'active' END, issued_at,
           CASE WHEN r < 20 THEN issued_at + interval '400 days' END, CASE WHEN r >= 95 THEN issued_at + interval '3 hours' END,
           CASE WHEN r < 10 THEN hash1 ELSE hash0 END, CASE WHEN r < 10 THEN hash0 END, CASE WHEN r < 10 THEN issued_at + interval '1 day 1 hour' END,
           1 + (r < 10)::int + (r >= 10 AND r < 12)::int + (r >= 95)::int
    FROM k`.execute(db);
  await sql`DROP TABLE k`.execute(db);
  const shapes = await sql<{ data: unknown }>`SELECT DISTINCT ON (type, data->'data'->'expiresAt' IS NULL, data->'data'->'permissions') data
                                               FROM keys.events WHERE data->>'keyId' LIKE 'key_%' AND stream_id LIKE 'key-%' ORDER BY type, data->'data'->'expiresAt' IS NULL, data->'data'->'permissions', global_position DESC`.execute(db);
  for (const { data } of shapes.rows) KeyEvent.parse(data);
  await sql`VACUUM ANALYZE keys.events`.execute(db);
  await sql`VACUUM ANALYZE keys.api_keys`.execute(db);
  return storedEvents(db);
}

async function storedEvents(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM keys.events`.execute(db);
  return rows[0]!.n;
}

/** Waits until the key event stream holds `events` messages: the keys relay has published them all. */
async function streamHolds(nc: NatsConnection, events: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (;;) {
    const { state } = await jsm.streams.info(ns.streams.keyEvents);
    if (state.messages >= events) return;
    await sleep(100);
  }
}

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

const replicaMetrics = async () => (await fetch(`http://127.0.0.1:${ports.replica}/metrics`)).text();

async function heapUsed(): Promise<number> {
  return Number(/^nodejs_heap_size_used_bytes(?:{[^}]*})? (\S+)$/m.exec(await replicaMetrics())?.[1] ?? NaN);
}

const handlerBuckets = async () => histogramBuckets(await replicaMetrics(), 'auth_decide_duration_seconds');

interface Replica {
  running: Running;
  readyMs: number;
  /** What the replica logged when its view caught up: replay time and keys. */
  replayMs: number;
  keys: number;
}

/** Starts an auth replica and times it from spawn to /readyz 200, polling every 20 ms. */
async function startReplica(): Promise<Replica> {
  let caughtUp: { ms: number; keys: number } | undefined;
  const started = performance.now();
  const running = startProcess(
    {
      name: 'auth-replica',
      main: 'dist/apps/auth/src/main.js',
      readyPort: ports.replica,
      env: { NATS_URL: natsUrl, NATS_PREFIX: run.prefix, DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', HTTP_PORT: String(ports.replica) },
    },
    'logs/keyscale',
    (line) => {
      if (line.msg === 'key view caught up with the key event stream') caughtUp = { ms: Number(line.ms), keys: Number(line.keys) };
    },
  );
  let gone = false;
  void running.exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error('the auth replica exited during start-up (see logs/keyscale/auth-replica.log)');
    if (performance.now() - started > REPLICA_READY_TIMEOUT_MS) {
      running.child.kill('SIGKILL');
      throw new Error(`the auth replica was not ready after ${REPLICA_READY_TIMEOUT_MS / 1000} s, the startupProbe's budget`);
    }
    const ready = await fetch(`http://127.0.0.1:${ports.replica}/readyz`).then((response) => response.ok, () => false);
    if (ready) break;
    await sleep(20);
  }
  const readyMs = performance.now() - started;
  return { running, readyMs, replayMs: caughtUp?.ms ?? NaN, keys: caughtUp?.keys ?? NaN };
}

async function stopReplica({ running }: Replica): Promise<void> {
  running.child.kill('SIGTERM');
  await running.exited;
}

/** Sequential auth.decide requests round the given keys, after a warm-up; the replica is the only one in the queue group. */
async function decideLatency(mux: RequestMux, keys: string[]): Promise<number[]> {
  const hashes = keys.map(hashKey);
  const times: number[] = [];
  for (let n = 0; n < decisions + 50; n++) {
    const request: DecideRequest = {
      keyHash: hashes[n % hashes.length]!, permission: 'FLOWS:READ', method: 'GET', path: '/v1/flows', clientIp: '127.0.0.1', userAgent: 'key-scale', requestId: `req-${n}`,
    };
    const started = performance.now();
    const reply = (await mux.request(ns.subjects.auth.decide, encodeJson({ pattern: ns.subjects.auth.decide, data: request, id: String(n) }), { timeoutMs: 5000 })).json<{
      response?: { ok?: boolean; value?: { outcome?: string } };
    }>();
    if (n >= 50) times.push(performance.now() - started);
    if (reply.response?.value?.outcome !== 'allowed') throw new Error(`decision not allowed: ${JSON.stringify(reply)}`);
  }
  return times;
}

interface ListingCase {
  name: string;
  path: string;
}

async function listingTimes(reader: string, cases: ListingCase[]): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>();
  for (const { name, path } of cases) {
    const each: number[] = [];
    for (let n = 0; n < requests + 2; n++) {
      const answer = await api(path, reader);
      if (answer.status !== 200) throw new Error(`${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
      if (n >= 2) each.push(answer.ms);
    }
    times.set(name, each);
  }
  return times;
}

/** The cursor the listing hands out after the key at `offset` in its order (newest first). */
async function cursorAt(db: Kysely<Database>, accountId: string, offset: number): Promise<string> {
  const row = await db.selectFrom('api_keys').select(['created_at', 'id']).where('account_id', '=', accountId)
    .orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(1).executeTakeFirstOrThrow();
  return encodeCursor([row.created_at.toISOString(), row.id]);
}

async function listingCases(db: Kysely<Database>, accountId: string, total: number, someKeyId: string): Promise<ListingCase[]> {
  const deep = Math.floor(total * 0.9);
  return [
    { name: 'GET /v1/api-keys (first page, 100)', path: '/v1/api-keys' },
    { name: 'GET /v1/api-keys?cursor= 90 % deep (100)', path: `/v1/api-keys?cursor=${encodeURIComponent(await cursorAt(db, accountId, deep))}` },
    { name: 'GET /v1/api-keys?limit=1000&cursor= 90 % deep', path: `/v1/api-keys?limit=1000&cursor=${encodeURIComponent(await cursorAt(db, accountId, deep))}` },
    { name: 'GET /v1/api-keys?status=revoked (100)', path: '/v1/api-keys?status=revoked' },
    { name: 'GET /v1/api-keys?status=expired (100)', path: '/v1/api-keys?status=expired' },
    { name: 'GET /v1/api-keys?environment=test (none)', path: '/v1/api-keys?environment=test' },
    { name: 'GET /v1/api-keys/:id', path: `/v1/api-keys/${someKeyId}` },
  ];
}

/** EXPLAIN (ANALYZE, BUFFERS) of the statements keys' own query functions run for the listing cases. */
async function explainQueries(accountId: string, total: number, someKeyId: string, db: Kysely<Database>): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const { db: capturing, lastQuery } = capturingKysely<Database>(pool, SCHEMA);
  const actor = { keyId: someKeyId, accountId, environment: 'live', permissions: ['*'] };
  const now = new Date().toISOString();
  const deep = await cursorAt(db, accountId, Math.floor(total * 0.9));
  const lines = ['| statement | rows returned | rows read | buffers | ms (EXPLAIN ANALYZE) | plan |', '|---|---|---|---|---|---|'];
  const listCases: [string, Record<string, unknown>][] = [
    ['list, first page', {}],
    ['list, cursor 90 % deep', { cursor: deep }],
    ['list, status=revoked', { status: 'revoked' }],
    ['list, status=expired', { status: 'expired' }],
    ['list, status=active, environment=live, cursor 90 % deep', { status: 'active', environment: 'live', cursor: deep }],
    ['list, environment=test', { environment: 'test' }],
  ];
  try {
    const explain = async (name: string) => {
      const plan = await explainLast(pool, lastQuery());
      const buffers = (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
      const time = (plan as { 'Actual Total Time'?: number })['Actual Total Time'] ?? NaN;
      lines.push(`| ${name} | ${plan['Actual Rows']} | ${rowsRead(plan)} | ${buffers} | ${ms(time)} | ${planShape(plan)} |`);
    };
    for (const [name, request] of listCases) {
      const parsed = parse(ListKeysRequest, { actor, ...request });
      if (!parsed.ok) throw new Error(`${name}: ${parsed.error.details}`);
      await listKeys(capturing, parsed.value, now);
      await explain(name);
    }
    await getKey(capturing, accountId, someKeyId, now);
    await explain('get by id');
  } finally {
    await capturing.destroy();
  }
  return lines;
}

interface Phase {
  label: string;
  keys: number;
  replicas: { readyMs: number; replayMs: number; rss: number; peak: number; heap: number }[];
  decide: number[][];
  /** auth.decide handler time over every round's timed decisions (and their warm-up). */
  handler: Buckets;
  listing: Map<string, number[]>[];
}

async function phase(label: string, mux: RequestMux, fewKeys: string[], reader: string, cases: ListingCase[]): Promise<Phase> {
  const result: Phase = { label, keys: 0, replicas: [], decide: [], handler: [], listing: [] };
  for (let round = 0; round < rounds; round++) {
    const replica = await startReplica();
    try {
      result.keys = replica.keys;
      await sleep(1000);
      const memory = memoryOf(replica.running.child.pid!);
      result.replicas.push({ readyMs: replica.readyMs, replayMs: replica.replayMs, ...memory, heap: await heapUsed() });
      const before = await handlerBuckets();
      result.decide.push(await decideLatency(mux, fewKeys));
      const during = bucketsBetween(before, await handlerBuckets());
      result.handler = during.map((bucket, i) => ({ le: bucket.le, count: bucket.count + (result.handler[i]?.count ?? 0) }));
      result.listing.push(await listingTimes(reader, cases));
    } finally {
      await stopReplica(replica);
    }
  }
  return result;
}

function report(phases: Phase[], cases: ListingCase[]): string[] {
  const lines: string[] = [];
  lines.push('| keys in the view | start to /readyz 200 ms | replay ms (its log) | RSS after ready MiB | peak RSS MiB | heap used MiB |', '|---|---|---|---|---|---|');
  for (const p of phases) {
    const each = (pick: (r: Phase['replicas'][number]) => string) => p.replicas.map(pick).join(', ');
    lines.push(`| ${p.keys.toLocaleString('en')} (${p.label}) | ${each((r) => r.readyMs.toFixed(0))} | ${each((r) => String(r.replayMs))} | ${each((r) => mib(r.rss))} | ${each((r) => mib(r.peak))} | ${each((r) => mib(r.heap))} |`);
  }
  const few = phases[0]!;
  lines.push('');
  for (const many of phases.slice(-1)) {
    const perKey = (pick: (r: Phase['replicas'][number]) => number) =>
      ((median(many.replicas.map(pick)) - median(few.replicas.map(pick))) / Math.max(1, many.keys - few.keys)).toFixed(0);
    const replay = median(many.replicas.map((r) => r.replayMs)) - median(few.replicas.map((r) => r.replayMs));
    lines.push(
      `Per key (medians, ${many.keys.toLocaleString('en')} keys against ${few.keys}): RSS ${perKey((r) => r.rss)} bytes, heap ${perKey((r) => r.heap)} bytes; ` +
        `replay ${replay.toFixed(0)} ms more (${Math.round((many.keys - few.keys) / (replay / 1000)).toLocaleString('en')} keys/s).`,
    );
  }
  lines.push(
    '',
    `auth.decide, ${decisions} sequential requests a round over ${FEW_KEYS} keys, round trip from this process (ms, p50 / p90 / p99 per round), and the handler's own p50 / p99 (histogram bucket bounds, all rounds):`,
    '',
    '| keys in the view | round trip, by round | handler |',
    '|---|---|---|',
  );
  for (const p of phases) {
    const rounds = p.decide.map((t) => `${ms(median(t))} / ${ms(percentile(t, 0.9))} / ${ms(percentile(t, 0.99))}`).join('; ');
    const bound = (q: number) => {
      const le = quantile(p.handler, q);
      return le === null ? '?' : `≤ ${le * 1000} ms`;
    };
    lines.push(`| ${p.keys.toLocaleString('en')} | ${rounds} | ${bound(0.5)} / ${bound(0.99)} |`);
  }
  lines.push(
    '',
    `Through the gateway, ${requests} sequential requests a round (ms, median per round; with ${few.keys} keys a page holds them all):`,
    '',
    `| case | ${phases.map((p) => `${p.keys.toLocaleString('en')} keys`).join(' | ')} |`,
    `|---|${phases.map(() => '---|').join('')}`,
  );
  for (const { name } of cases) {
    lines.push(`| ${name} | ${phases.map((p) => p.listing.map((l) => ms(median(l.get(name) ?? [NaN]))).join(', ')).join(' | ')} |`);
  }
  return lines;
}

async function main() {
  const nc = await connect({ servers: natsUrl });
  const mux = new RequestMux(nc);
  const db = createKysely<Database>({ url: databaseUrl, max: 2 }).withSchema(SCHEMA);
  try {
    await run.start('keys', 'dist/apps/keys/src/main.js', { readyPort: ports.keys, env: { HTTP_PORT: String(ports.keys), BOOTSTRAP_ADMIN_KEY: admin } });
    const setupAuth = await run.start('auth', 'dist/apps/auth/src/main.js', { readyPort: ports.auth, env: { HTTP_PORT: String(ports.auth) } });
    // The listing asks metering for each key's last use.
    await run.start('metering', 'dist/apps/metering/src/main.js', { readyPort: ports.metering, env: { HTTP_PORT: String(ports.metering) } });
    await run.start('gateway', 'dist/apps/gateway/src/main.js', {
      readyPort: ports.gateway,
      env: { PORT: String(ports.gateway), METRICS_PORT: String(ports.gatewayMetrics) },
    });
    const fewKeys: string[] = [];
    for (let i = 0; i < FEW_KEYS; i++) fewKeys.push((await createKey(['FLOWS:READ'], `decide ${i}`)).key);
    const reader = await createKey(['KEYS:READ'], 'reader');
    // From here on the measured replica is the only one answering auth.decide.
    setupAuth.child.kill('SIGTERM');
    await setupAuth.exited;

    console.log(`key-scale: up to ${keyCount.toLocaleString('en')} keys, ${rounds} replicas at each size, namespace ${run.prefix}\n`);
    const admins = await db.selectFrom('api_keys').select('id').where('name', '=', 'bootstrap admin').executeTakeFirstOrThrow();
    const phases: Phase[] = [];
    let cases: ListingCase[] = [];
    let stored = 0;
    let eventsBefore = await storedEvents(db);
    for (const size of [0, Math.floor(keyCount / 10), keyCount]) {
      if (size > stored) {
        let started = performance.now();
        const events = await fill(db, reader.accountId, admins.id, stored, size);
        const filledMs = performance.now() - started;
        started = performance.now();
        await streamHolds(nc, events);
        const relayMs = performance.now() - started;
        const added = events - eventsBefore;
        eventsBefore = events;
        console.log(
          `stored keys ${stored.toLocaleString('en')} to ${size.toLocaleString('en')} in ${(filledMs / 1000).toFixed(1)} s; ` +
            `the keys relay published their ${added.toLocaleString('en')} events in ${(relayMs / 1000).toFixed(1)} s (${Math.round(added / (relayMs / 1000)).toLocaleString('en')} events/s)`,
        );
        stored = size;
      }
      cases = await listingCases(db, reader.accountId, size + FEW_KEYS + 2, reader.id);
      phases.push(await phase(size === 0 ? 'made through the API' : 'filled', mux, fewKeys, reader.key, cases));
    }
    const total = keyCount + FEW_KEYS + 2;
    console.log(`\n${report(phases, cases).join('\n')}`);
    console.log(`\nEXPLAIN (ANALYZE, BUFFERS) with ${total.toLocaleString('en')} keys in one account:\n`);
    console.log((await explainQueries(reader.accountId, total, reader.id, db)).join('\n'));
  } finally {
    await db.destroy();
    await nc.close();
    await run.close();
  }
}

runScript(main);
