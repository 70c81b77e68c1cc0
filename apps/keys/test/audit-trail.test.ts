import { createHash } from 'node:crypto';
import pg from 'pg';
import { createKysely } from '@keyplane/database';
import { jetstreamManager, DiscardPolicy } from '@nats-io/jetstream';
import { KeyEvent, type AuditEvent, type AuditPage, type IssuedKey, type KeyObject, type Reply, type RotatedKey } from '@keyplane/contracts';
import { generateKey, hashKey } from '@keyplane/key-format';
import { appendToStream, OutboxRelay, readStream } from '@keyplane/event-store';
import { waitFor } from '@keyplane/testing';
import type { ServiceHandle } from '@keyplane/runtime';
import { asEventStore } from '../src/db/as-event-store.js';
import type { Database } from '../src/db/schema.js';
import { storeKeyEvents } from '../src/commands/store-key-events.js';
import { decide } from '../src/key/commands.js';
import { evolve } from '../src/key/evolve.js';
import { initialState } from '../src/key/state.js';
import { rowFromState } from '../src/read-model/key-row.js';
import { actor, CapturedLogs, countEvents, keysTestEnv, newSecret, randomKeyId, streamMessages, type KeysTestEnv } from './support/harness.js';

// Audit-trail and keys-service guarantees (DESIGN §2.1, §7, §8; apps/keys/README.md).
// Each probe asserts what DESIGN or the README says; a failing test is a finding.

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const envs: KeysTestEnv[] = [];
async function freshEnv(label: string): Promise<KeysTestEnv> {
  const env = await keysTestEnv(label);
  envs.push(env);
  return env;
}
afterAll(async () => {
  for (const env of envs) await env.close().catch(() => undefined);
});

async function ok<T>(reply: Promise<Reply<T>>): Promise<T> {
  const r = await reply;
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

async function storedEvents(env: KeysTestEnv, keyId: string) {
  return readStream(asEventStore(env.db), `key-${keyId}`);
}

/** Every stored event on the stream exactly once, Nats-Msg-Id = event id, body = stored event, per-key order = stream version order. */
async function expectStreamEqualsStore(env: KeysTestEnv, timeoutMs = 8000) {
  const storedRows = await env.db.selectFrom('events').selectAll().orderBy('global_position').execute();
  await waitFor(
    'every stored event on the stream',
    async () => {
      const ids = new Set((await streamMessages(env.nc, env.ns.streams.keyEvents)).map((m) => m.msgId));
      return storedRows.every((r) => ids.has(r.event_id)) || undefined;
    },
    timeoutMs,
    50,
  ).catch(() => undefined);
  const onStream = await streamMessages(env.nc, env.ns.streams.keyEvents);
  const ids = onStream.map((m) => m.msgId);
  const missing = storedRows.filter((r) => !ids.includes(r.event_id)).map((r) => r.event_id);
  const duplicated = ids.filter((id, i) => ids.indexOf(id) !== i);
  const storedIds = new Set(storedRows.map((r) => r.event_id));
  const notStored = ids.filter((id) => !storedIds.has(id));
  expect({ missing, duplicated, notStored }).toEqual({ missing: [], duplicated: [], notStored: [] });
  // Body = the stored v1 event; per key, stream order = stream versions 1..n.
  const byKey = new Map<string, number[]>();
  for (const m of onStream) {
    const row = storedRows.find((r) => r.event_id === m.msgId)!;
    expect(m.body).toEqual(KeyEvent.parse(row.data));
    expect(m.subject).toBe(`${env.ns.prefix}.events.keys.${(m.body as KeyEvent).keyId}`);
    byKey.set(row.stream_id, [...(byKey.get(row.stream_id) ?? []), row.stream_version]);
  }
  for (const [stream, versions] of byKey) {
    expect({ stream, versions }).toEqual({ stream, versions: versions.map((_, i) => i + 1) });
  }
  return onStream;
}

/** What a fresh projection (an auth replica) gets by replaying the stream equals the read model. */
async function expectReplayEqualsReadModel(env: KeysTestEnv) {
  const onStream = await streamMessages(env.nc, env.ns.streams.keyEvents);
  const byKey = new Map<string, KeyEvent[]>();
  for (const m of onStream) {
    const e = KeyEvent.parse(m.body);
    byKey.set(e.keyId, [...(byKey.get(e.keyId) ?? []), e]);
  }
  const rows = await env.db.selectFrom('api_keys').selectAll().execute();
  expect([...byKey.keys()].sort()).toEqual(rows.map((r) => r.id).sort());
  for (const row of rows) {
    const events = byKey.get(row.id)!;
    const state = events.reduce(evolve, initialState());
    if (state.status === 'absent') throw new Error('absent');
    expect({
      ...row,
      created_at: row.created_at.toISOString(),
      expires_at: row.expires_at?.toISOString() ?? null,
      revoked_at: row.revoked_at?.toISOString() ?? null,
      previous_key_expires_at: row.previous_key_expires_at?.toISOString() ?? null,
    }).toEqual(rowFromState(state, events.length));
  }
}

// ---------------------------------------------------------------------------------------------
describe('lifecycle commands leave exactly the documented events, and the audit shows them', () => {
  let env: KeysTestEnv;
  let now = new Date('2026-11-26T10:00:00.000Z');
  const logs = new CapturedLogs();
  const admin = actor('acc_audit');
  const subjects = () => env.ns.subjects.keys;
  const audit = (query: Record<string, unknown> = {}, by = admin) => ok(env.send<AuditPage>(subjects().audit, { actor: by, ...query }));

  beforeAll(async () => {
    env = await freshEnv('keys_audit_trail');
    await env.start({}, { logDestination: logs, clock: () => now });
  });

  it('issue, PATCH (each field), no-op PATCHes, rotate with and without grace, revoke, revoke again', async () => {
    now = new Date('2026-11-26T10:00:00.000Z');
    const first = newSecret();
    const issued = await ok(
      env.send<IssuedKey>(subjects().issue, { actor: admin, name: 'trail', environment: 'live', permissions: ['FLOWS:READ'], secret: first.fingerprint }),
    );
    const keyId = issued.key.id;

    now = new Date('2026-11-26T10:01:00.000Z');
    await ok(env.send(subjects().update, { actor: admin, keyId, name: 'trail 2', permissions: ['FLOWS:READ', 'FLOWS:WRITE'], rateLimits: { hour: 7 } }));
    const afterPatch = await countEvents(env.db);

    // Nothing changes: same name, same permissions, same limits (partial and whole), empty body.
    now = new Date('2026-11-26T10:02:00.000Z');
    for (const body of [
      { name: 'trail 2' },
      { permissions: ['FLOWS:READ', 'FLOWS:WRITE'] },
      { rateLimits: { hour: 7 } },
      { rateLimits: { hour: 7, day: 10000 } },
      { rateLimits: {} },
      {},
      { name: 'trail 2', permissions: ['FLOWS:READ', 'FLOWS:WRITE'], rateLimits: { day: 10000 } },
    ]) {
      const reply = await env.send<{ key: KeyObject }>(subjects().update, { actor: admin, keyId, ...body });
      expect({ body, status: reply.ok ? 200 : reply.error.status }).toEqual({ body, status: 200 });
    }
    expect(await countEvents(env.db)).toBe(afterPatch);

    now = new Date('2026-11-26T10:03:00.000Z');
    const second = newSecret();
    const rotatedGrace = await ok(env.send<RotatedKey>(subjects().rotate, { actor: admin, keyId, gracePeriodSeconds: 120, secret: second.fingerprint }));
    expect(rotatedGrace.previousKeyExpiresAt).toBe('2026-11-26T10:05:00.000Z');

    now = new Date('2026-11-26T10:04:00.000Z');
    const third = newSecret();
    const rotatedNow = await ok(env.send<RotatedKey>(subjects().rotate, { actor: admin, keyId, gracePeriodSeconds: 0, secret: third.fingerprint }));
    expect(rotatedNow.previousKeyExpiresAt).toBe('2026-11-26T10:04:00.000Z');

    now = new Date('2026-11-26T10:05:00.000Z');
    await ok(env.send(subjects().revoke, { actor: admin, keyId, reason: 'leaked' }));
    now = new Date('2026-11-26T10:06:00.000Z');
    await ok(env.send(subjects().revoke, { actor: admin, keyId, reason: 'again' }));

    const events = (await storedEvents(env, keyId)).map((e) => KeyEvent.parse(e.data));
    const envelope = (type: string, occurredAt: string, data: unknown) => ({
      type,
      version: 1,
      eventId: expect.stringMatching(/^evt_/),
      keyId,
      accountId: 'acc_audit',
      occurredAt,
      actor: admin.keyId,
      data,
    });
    expect(events).toEqual([
      envelope('KeyIssued', '2026-11-26T10:00:00.000Z', {
        name: 'trail',
        environment: 'live',
        permissions: ['FLOWS:READ'],
        rateLimits: { hour: 1000, day: 10000 },
        expiresAt: null,
        secret: first.fingerprint,
      }),
      envelope('KeyRenamed', '2026-11-26T10:01:00.000Z', { name: 'trail 2' }),
      envelope('KeyPermissionsChanged', '2026-11-26T10:01:00.000Z', { permissions: ['FLOWS:READ', 'FLOWS:WRITE'] }),
      envelope('KeyRateLimitsChanged', '2026-11-26T10:01:00.000Z', { rateLimits: { hour: 7, day: 10000 } }),
      envelope('KeySecretRotated', '2026-11-26T10:03:00.000Z', {
        secret: second.fingerprint,
        previousSecretHash: sha(first.key),
        previousKeyExpiresAt: '2026-11-26T10:05:00.000Z',
      }),
      envelope('KeySecretRotated', '2026-11-26T10:04:00.000Z', {
        secret: third.fingerprint,
        previousSecretHash: sha(second.key),
        previousKeyExpiresAt: '2026-11-26T10:04:00.000Z',
      }),
      envelope('KeyRevoked', '2026-11-26T10:05:00.000Z', { reason: 'leaked' }),
    ]);
    expect(first.fingerprint.secretHash).toBe(sha(first.key));

    // The audit view: newest first, documented fields, prefix/last4 instead of hashes.
    const page = await audit({ keyId });
    expect(page.nextCursor).toBeNull();
    expect(page.data.map((e) => e.id)).toEqual(events.map((e) => e.eventId).reverse());
    for (const e of page.data) expect(Object.keys(e).sort()).toEqual(['accountId', 'actor', 'data', 'id', 'keyId', 'occurredAt', 'type']);
    expect(page.data[0].data).toEqual({ reason: 'leaked' });
    expect(page.data[1].data).toEqual({ prefix: third.key.slice(0, 12), last4: third.key.slice(-4), previousKeyExpiresAt: '2026-11-26T10:04:00.000Z' });
    const text = JSON.stringify(page);
    for (const s of [first, second, third]) {
      expect(text).not.toContain(s.key);
      expect(text).not.toContain(sha(s.key));
    }
    // Nothing secret in the logs either (hashes included: they identify the key).
    for (const s of [first, second, third]) {
      expect(logs.text()).not.toContain(s.key);
      expect(logs.text()).not.toContain(s.key.slice(8, 40));
    }
    await expectStreamEqualsStore(env);
  });

  it('pages without gaps or repeats when many events share one millisecond, with and without filters', async () => {
    now = new Date('2026-11-26T11:00:00.000Z');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const k = await ok(env.send<IssuedKey>(subjects().issue, { actor: admin, name: `same ${i}`, environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint }));
      ids.push(k.key.id);
      await ok(env.send(subjects().update, { actor: admin, keyId: k.key.id, name: `same ${i} b`, rateLimits: { day: 500 + i } }));
    }
    const window = { from: '2026-11-26T11:00:00.000Z', to: '2026-11-26T11:00:00.001Z' };
    const everything = await audit({ ...window, limit: 1000 });
    expect(everything.data).toHaveLength(21);
    // Newest first = reverse store order within the millisecond.
    const storeOrder = await env.db.selectFrom('events').select('event_id').where('occurred_at', '=', new Date(window.from)).orderBy('global_position', 'desc').execute();
    expect(everything.data.map((e) => e.id)).toEqual(storeOrder.map((r) => r.event_id));
    for (const [limit, filter] of [
      [1, {}],
      [2, {}],
      [4, {}],
      [3, { type: 'KeyRenamed' }],
      [2, { keyId: ids[3] }],
    ] as const) {
      const expected = (await audit({ ...window, ...filter, limit: 1000 })).data.map((e) => e.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let n = 0; n < 100; n++) {
        const page = await audit({ ...window, ...filter, limit, cursor });
        seen.push(...page.data.map((e) => e.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect({ limit, filter, seen }).toEqual({ limit, filter, seen: expected });
    }
  });

  it('from is inclusive and to exclusive, also for timestamps finer than a millisecond', async () => {
    now = new Date('2026-11-26T12:00:00.000Z');
    const k = await ok(env.send<IssuedKey>(subjects().issue, { actor: admin, name: 'edge', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint }));
    const q = (range: Record<string, string>) => audit({ keyId: k.key.id, ...range }).then((p) => p.data.length);
    expect(await q({ from: '2026-11-26T12:00:00.000Z' })).toBe(1);
    expect(await q({ to: '2026-11-26T12:00:00.000Z' })).toBe(0);
    expect(await q({ from: '2026-11-26T13:00:00.000+01:00', to: '2026-11-26T13:00:00.001+01:00' })).toBe(1);
    // 12:00:00.000 is before 12:00:00.0005: outside [from, …) and inside […, to).
    expect({ from: await q({ from: '2026-11-26T12:00:00.0005Z' }), to: await q({ to: '2026-11-26T12:00:00.0005Z' }) }).toEqual({ from: 0, to: 1 });
  });

  it('the audit of another account shows nothing of this one, and no audit answer ever holds a hash', async () => {
    const other = actor('acc_other_trail');
    expect((await audit({}, other)).data).toEqual([]);
    const all = await audit({ limit: 1000 });
    const hashes = (await env.db.selectFrom('api_keys').select(['secret_hash', 'previous_secret_hash']).execute()).flatMap((r) => [r.secret_hash, r.previous_secret_hash]).filter(Boolean);
    const text = JSON.stringify(all);
    expect(hashes.filter((h) => text.includes(h!))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
describe('concurrent commands on one key', () => {
  let env: KeysTestEnv;
  const admin = actor('acc_race');
  const subjects = () => env.ns.subjects.keys;
  beforeAll(async () => {
    env = await freshEnv('keys_trail_race');
    await env.start();
  });

  async function issue(): Promise<KeyObject> {
    return (await ok(env.send<IssuedKey>(subjects().issue, { actor: admin, name: 'raced', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint }))).key;
  }

  it('10 parallel PATCHes: consecutive versions, no lost update, each answer 200 or a clear 409', async () => {
    const key = await issue();
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => env.send<{ key: KeyObject }>(subjects().update, { actor: admin, keyId: key.id, name: `n${i}`, rateLimits: { hour: 100 + i } })),
    );
    const statuses = replies.map((r) => (r.ok ? 200 : r.error.status));
    for (const r of replies) {
      if (!r.ok) expect(r.error).toEqual({ status: 409, error: 'Conflict', details: `API key ${key.id} is being changed concurrently; retry` });
    }
    const events = (await storedEvents(env, key.id)).map((e) => KeyEvent.parse(e.data));
    const succeeded = replies.filter((r) => r.ok).length;
    expect(events.filter((e) => e.type === 'KeyRenamed')).toHaveLength(succeeded);
    expect(events.filter((e) => e.type === 'KeyRateLimitsChanged')).toHaveLength(succeeded);
    const lastRename = events.filter((e) => e.type === 'KeyRenamed').at(-1) as Extract<KeyEvent, { type: 'KeyRenamed' }>;
    const get = await ok(env.send<KeyObject>(subjects().get, { actor: admin, keyId: key.id }));
    expect(get.name).toBe(lastRename.data.name);
    // Every successful reply is a state that existed: its name and limits were written together.
    for (const r of replies) if (r.ok) expect(Number(r.value.key.name.slice(1)) + 100).toBe(r.value.key.rateLimits.hour);
    // Informational: how many were refused.
    expect({ statuses: statuses.filter((s) => s !== 200 && s !== 409) }).toEqual({ statuses: [] });
  });

  it('two rotates racing: both chain, the second names the first one’s secret as previous', async () => {
    for (let round = 0; round < 5; round++) {
      const key = await issue();
      const a = newSecret();
      const b = newSecret();
      const [ra, rb] = await Promise.all([
        env.send<RotatedKey>(subjects().rotate, { actor: admin, keyId: key.id, gracePeriodSeconds: 60, secret: a.fingerprint }),
        env.send<RotatedKey>(subjects().rotate, { actor: admin, keyId: key.id, gracePeriodSeconds: 60, secret: b.fingerprint }),
      ]);
      expect([ra.ok, rb.ok]).toEqual([true, true]);
      const events = (await storedEvents(env, key.id)).map((e) => KeyEvent.parse(e.data));
      expect(events.map((e) => e.type)).toEqual(['KeyIssued', 'KeySecretRotated', 'KeySecretRotated']);
      const [issued, r1, r2] = events as [Extract<KeyEvent, { type: 'KeyIssued' }>, Extract<KeyEvent, { type: 'KeySecretRotated' }>, Extract<KeyEvent, { type: 'KeySecretRotated' }>];
      expect(r1.data.previousSecretHash).toBe(issued.data.secret.secretHash);
      expect(r2.data.previousSecretHash).toBe(r1.data.secret.secretHash);
    }
  });

  it('rotate, revoke and PATCH racing: never a 5xx, stream versions consecutive', async () => {
    for (let round = 0; round < 5; round++) {
      const key = await issue();
      const replies = await Promise.all([
        env.send(subjects().rotate, { actor: admin, keyId: key.id, gracePeriodSeconds: 0, secret: newSecret().fingerprint }),
        env.send(subjects().revoke, { actor: admin, keyId: key.id }),
        env.send(subjects().update, { actor: admin, keyId: key.id, permissions: ['FLOWS:READ', 'RECORDS:READ'] }),
        env.send(subjects().revoke, { actor: admin, keyId: key.id, reason: 'twice' }),
      ]);
      for (const r of replies) if (!r.ok) expect(r.error.status).toBe(409);
      const stored = await storedEvents(env, key.id);
      expect(stored.map((e) => e.streamVersion)).toEqual(stored.map((_, i) => i + 1));
      const types = stored.map((e) => e.type);
      expect(types.filter((t) => t === 'KeyRevoked')).toHaveLength(1);
      expect(types.at(-1)).toBe('KeyRevoked');
    }
    await expectStreamEqualsStore(env);
    await expectReplayEqualsReadModel(env);
  });
});

// ---------------------------------------------------------------------------------------------
describe('outbox relay: every stored event on the stream exactly once', () => {
  it('a temporary publish failure: the reply is the documented 503, the change is stored, and published once when NATS recovers', async () => {
    const env = await freshEnv('keys_trail_pubfail');
    const logs = new CapturedLogs();
    await env.start({}, { logDestination: logs, publishTimeoutMs: 1000 });
    const admin = actor('acc_pubfail');
    const subjects = env.ns.subjects.keys;
    const good = await ok(env.send<IssuedKey>(subjects.issue, { actor: admin, name: 'before', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint }));

    const jsm = await jetstreamManager(env.nc);
    const info = await jsm.streams.info(env.ns.streams.keyEvents);
    // The stream refuses new messages for a while: every publish fails.
    await jsm.streams.update(env.ns.streams.keyEvents, { ...info.config, max_msgs: info.state.messages, discard: DiscardPolicy.New });
    const secret = newSecret();
    const during = await env.send<IssuedKey>(subjects.issue, { actor: admin, requestId: 'req_during', name: 'during', environment: 'live', permissions: ['FLOWS:READ'], secret: secret.fingerprint });
    expect(during).toEqual({ ok: false, error: { status: 503, error: 'Service Unavailable', details: expect.stringMatching(/^Key event stream unavailable/) } });
    // Said in keys' log with the request it answered, so an operator can find the change the client was told of.
    const said = logs.lines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'key message answered 503');
    expect(said.map(({ level, handler, requestId, details }) => ({ level, handler, requestId, details }))).toEqual([
      { level: 40, handler: 'issue', requestId: 'req_during', details: 'Key event stream unavailable: the change is stored and takes effect once published' },
    ]);
    const patched = await env.send(subjects.update, { actor: admin, keyId: good.key.id, name: 'renamed during outage' });
    expect(patched).toMatchObject({ ok: false, error: { status: 503 } });
    expect(await countEvents(env.db)).toBe(1 + 1 + 1 + 1); // bootstrap, before, during, rename

    await jsm.streams.update(env.ns.streams.keyEvents, { ...info.config, max_msgs: -1, discard: DiscardPolicy.Old });
    await expectStreamEqualsStore(env);
    // And commands work again.
    await ok(env.send(subjects.update, { actor: admin, keyId: good.key.id, name: 'after' }));
    await expectStreamEqualsStore(env);
    expect(logs.text()).not.toContain(secret.key);
    expect(logs.text()).not.toContain(secret.key.slice(8, 40));
  });

  it('keys restarts mid-traffic (a second replica takes over): everything stored is published once, in order, and replays to the read model', async () => {
    const env = await freshEnv('keys_trail_restart');
    const a = await env.start();
    const admin = actor('acc_restart');
    const subjects = env.ns.subjects.keys;
    const keyIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      keyIds.push((await ok(env.send<IssuedKey>(subjects.issue, { actor: admin, name: `k${i}`, environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint }))).key.id);
    }
    const b = await env.start();
    // A command still in flight on the stopped replica gets no reply at all: status 0 here.
    const traffic: Promise<Reply<unknown> | { ok: false; error: { status: 0; error: string; details: string } }>[] = [];
    for (let i = 0; i < 60; i++) {
      const keyId = keyIds[i % keyIds.length];
      const command =
        i % 3 === 0
          ? env.send(subjects.issue, { actor: admin, name: `t${i}`, environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint })
          : i % 3 === 1
            ? env.send(subjects.update, { actor: admin, keyId, name: `t${i}`, rateLimits: { hour: 10 + i } })
            : env.send(subjects.rotate, { actor: admin, keyId, gracePeriodSeconds: 10, secret: newSecret().fingerprint });
      traffic.push(command.catch((e: Error) => ({ ok: false as const, error: { status: 0, error: 'timeout', details: e.message } })));
      if (i === 20) await env.stop(a);
    }
    const replies = await Promise.all(traffic);
    const statuses = replies.map((r) => (r.ok ? 200 : r.error.status));
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    await expectStreamEqualsStore(env);
    await expectReplayEqualsReadModel(env);
    await env.stop(b);

    // A fresh start on the same DB and namespace publishes nothing again.
    const before = (await streamMessages(env.nc, env.ns.streams.keyEvents)).length;
    const c = await env.start();
    await new Promise((r) => setTimeout(r, 600));
    expect((await streamMessages(env.nc, env.ns.streams.keyEvents)).length).toBe(before);
    await env.stop(c);
  });

  it('an unrelated open transaction elsewhere on the Postgres server does not hold key commands back', async () => {
    const env = await freshEnv('keys_trail_xmin');
    await env.start({}, { publishTimeoutMs: 3000 });
    const admin = actor('acc_xmin');
    // An operator's psql session left idle in a transaction, in another database on the same server.
    const other = new pg.Client({ connectionString: env.database.url.replace(/\/[^/]+$/, '/postgres') });
    await other.connect();
    try {
      await other.query('begin');
      await other.query('select pg_current_xact_id()');
      const started = Date.now();
      const reply = await env.send<IssuedKey>(env.ns.subjects.keys.issue, { actor: admin, name: 'x', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint });
      const tookMs = Date.now() - started;
      expect({ ok: reply.ok, status: reply.ok ? 200 : reply.error.status, slow: tookMs > 1000 }).toEqual({ ok: true, status: 200, slow: false });
    } finally {
      await other.query('rollback').catch(() => undefined);
      await other.end();
    }
  });

  it('many concurrent writers: the relay never skips an event whose transaction commits after a later position', async () => {
    const env = await freshEnv('keys_trail_gap');
    await env.start({}, { relayPollIntervalMs: 1 });
    const writer = createKysely<Database>({ url: env.database.url, max: 24 });
    const db = writer.withSchema('keys');
    const admin = actor('acc_gap');
    try {
      await Promise.all(
        Array.from({ length: 24 }, async () => {
          for (let i = 0; i < 60; i++) {
            const keyId = randomKeyId();
            const decision = decide(
              {
                type: 'IssueKey',
                data: { keyId, accountId: 'acc_gap', actor: admin, name: 'g', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint },
                metadata: { now: new Date().toISOString(), eventIds: [`evt_gap_${keyId}`] },
              },
              initialState(),
            );
            if (!decision.ok) throw new Error(decision.error.details);
            const state = decision.events.reduce(evolve, initialState());
            if (state.status === 'absent') throw new Error('absent');
            await storeKeyEvents(db as never, 0, decision.events, state);
          }
        }),
      );
    } finally {
      await writer.destroy();
    }
    await expectStreamEqualsStore(env, 10_000);
  }, 90_000);
});

describe('outbox relay under many concurrent appenders (libs/event-store)', () => {
  const APPENDS_PER_WRITER = 400;

  it('publishes every committed event: an append whose position was taken before a later one committed is never skipped', async () => {
    const env = await freshEnv('keys_trail_relaygap');
    await env.stop(await env.start()); // migrations only
    const published = new Set<string>();
    const relay = new OutboxRelay({
      db: asEventStore(env.db),
      publisher: { publishInOrder: async (events) => events.forEach((event) => published.add(event.eventId)), lastPublished: async () => null },
      name: 'probe-relay',
      pollIntervalMs: 1,
    });
    await relay.start();
    const writer = createKysely<Database>({ url: env.database.url, max: 8 });
    const db = writer.withSchema('keys');
    // Appends take turns, so they are slow: 3,200 take 12 s alone on 2 slow cores, where 9,600 took
    // 35 s alone and up to 101 s of the 120 in CI. 3,200 are plenty: with appends not taking turns
    // (the lock in appendToStream removed, 2026-11-27), 400 left 4-7 events never published in
    // each of two runs, 800 left 7-11 in each of three, and 3,200 failed this test in both runs.
    try {
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < APPENDS_PER_WRITER; i++) {
            await db.transaction().execute((trx) =>
              appendToStream(asEventStore(trx as never), `probe-${w}-${i}`, 0, [{ eventId: `evt_probe_${w}_${i}`, type: 'Probe', occurredAt: new Date().toISOString(), data: {} }]),
            );
          }
        }),
      );
    } finally {
      await writer.destroy();
    }
    const stored = (await env.db.selectFrom('events').select('event_id').where('type', '=', 'Probe').execute()).map((r) => r.event_id);
    await waitFor('relay caught up', async () => stored.every((id) => published.has(id)) || undefined, 3000, 50).catch(() => undefined);
    await relay.stop();
    expect({ stored: stored.length, neverPublished: stored.filter((id) => !published.has(id)) }).toEqual({ stored: 8 * APPENDS_PER_WRITER, neverPublished: [] });
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
describe('bootstrap admin key', () => {
  it('the same key across restarts: one key, one KeyIssued by system; a different key on restart adds a second admin, the first stays', async () => {
    const env = await freshEnv('keys_trail_boot');
    const first = generateKey({ environment: 'live' }).key;
    await env.stop(await env.start({ bootstrapAdminKey: first }));
    await env.stop(await env.start({ bootstrapAdminKey: first }));
    expect(await countEvents(env.db)).toBe(1);

    const second = generateKey({ environment: 'live' }).key;
    const logs = new CapturedLogs();
    await env.stop(await env.start({ bootstrapAdminKey: second }, { logDestination: logs }));
    const rows = await env.db.selectFrom('api_keys').selectAll().orderBy('created_at').execute();
    expect(rows.map((r) => [r.account_id, r.name, r.permissions, r.status, r.secret_hash])).toEqual([
      ['acc_root', 'bootstrap admin', ['*'], 'active', hashKey(first)],
      ['acc_root', 'bootstrap admin', ['*'], 'active', hashKey(second)],
    ]);
    const onStream = await expectStreamEqualsStore(env);
    expect(onStream.map((m) => [(m.body as KeyEvent).type, (m.body as KeyEvent).actor, (m.body as KeyEvent).accountId])).toEqual([
      ['KeyIssued', 'system', 'acc_root'],
      ['KeyIssued', 'system', 'acc_root'],
    ]);
    expect(logs.text()).not.toContain(second);
  });

  it('a revoked bootstrap key is not brought back by a restart', async () => {
    const env = await freshEnv('keys_trail_boot_revoked');
    const admin = generateKey({ environment: 'live' }).key;
    const service: ServiceHandle = await env.start({ bootstrapAdminKey: admin });
    const [row] = await env.db.selectFrom('api_keys').selectAll().execute();
    await ok(env.send(env.ns.subjects.keys.revoke, { actor: { keyId: row.id, accountId: 'acc_root', environment: 'live', permissions: ['*'] }, keyId: row.id }));
    await env.stop(service);
    await env.stop(await env.start({ bootstrapAdminKey: admin }));
    const rows = await env.db.selectFrom('api_keys').selectAll().execute();
    expect(rows.map((r) => r.status)).toEqual(['revoked']);
    const events = (await storedEvents(env, row.id)).map((e) => KeyEvent.parse(e.data));
    expect(events.map((e) => [e.type, e.actor])).toEqual([
      ['KeyIssued', 'system'],
      ['KeyRevoked', row.id],
    ]);
  });

  it('a malformed value stops start-up with a clear error that does not hold the value', async () => {
    const env = await freshEnv('keys_trail_boot_bad');
    const good = generateKey({ environment: 'live' }).key;
    for (const bad of [`${good}\n`, ` ${good}`, good.slice(0, -1), 'hunter2']) {
      const error = await env.start({ bootstrapAdminKey: bad }).then(
        () => null,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(/^BOOTSTRAP_ADMIN_KEY is not a valid live API key: /);
      expect(error?.message).not.toContain(good.slice(8, 30));
    }
    expect(await env.db.selectFrom('api_keys').selectAll().execute().catch(() => [])).toEqual([]);
  });
});

export type { AuditEvent };
