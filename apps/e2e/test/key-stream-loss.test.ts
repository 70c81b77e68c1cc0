import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import { namespace as contractsNamespace } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import { OUTBOX_STREAM_LOOK_BACK, POSITION_HEADER } from '@keyplane/event-store';
import { generateKey } from '@keyplane/key-format';
import { connectNats, encodeJson } from '@keyplane/nats';
import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs, freshDatabase, freshNamespace, TEST_NATS_URL, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { loadAuthConfig } from '../../auth/src/config.js';
import { startAuthService } from '../../auth/src/start.js';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { startDemoApiService } from '../../demo-api/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { startGatewayService, type GatewayHandle } from '../../gateway/src/start.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import type { Database as KeysDatabase } from '../../keys/src/db/schema.js';
import { startKeysService } from '../../keys/src/start.js';
import { startConfiguredNats, type ConfiguredNats } from './configured-nats.js';
import { keyStreamAndStore, storedKeyEvents } from './key-stream-contents.js';
import { outageClient, type TimedAnswer } from './outage-client.js';
import { sleep } from './stack.js';

// The key event stream loses its history while the services run (docs/operations.md "What can be
// lost"; keys and auth READMEs): deleted (`nats stream rm`, NATS restarted on empty storage), lost
// while keys is down, purged. Postgres is the source of truth: keys makes the stream again and
// publishes every stored event anew, and running and new auth replicas end up with the view they
// had, plus every change made after the loss.

const REVOKED = { error: 'Unauthorized', details: 'API key has been revoked' };
const INVALID = { error: 'Unauthorized', details: 'Invalid or missing API key' };
const NO_FLOWS_READ = { error: 'Forbidden', details: 'Missing required permission: FLOWS:READ' };
/** Requests per key and check: enough that each of two auth replicas (picked at random) answers some. */
const CALLS = 12;
/** Bounds the waits for a stream to be rebuilt and followed again; the healthy path takes well under a second. */
const HEAL_TIMEOUT_MS = 15_000;

let database: FreshDatabase;
let ns: FreshNamespace;
const logs = new CapturedLogs();
const adminKey = generateKey({ environment: 'live' }).key;
let keys: ServiceHandle;
const replicas = new Map<string, ServiceHandle>();
let demo: ServiceHandle;
let gateway: GatewayHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let keysDb: Kysely<KeysDatabase>;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const { call, createKey: createLimitedKey, metric } = outageClient({ gatewayUrl: () => gateway.url, databaseUrl: () => database.url, adminKey });
/** The checks below make many requests per key; the hour's default 1,000 must not get in their way. */
const LIMITS = { hour: 1_000_000, day: 1_000_000 };
const createKey = (name: string) => createLimitedKey(name, ['FLOWS:READ'], LIMITS);
const common = () => ({ NATS_PREFIX: ns.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, DATABASE_URL: database.url });

const startKeys = async () => {
  keys = await startKeysService(loadKeysConfig({ ...common(), BOOTSTRAP_ADMIN_KEY: adminKey }), { logDestination: logs });
};

async function startReplica(name: string): Promise<ServiceHandle> {
  const replica = await startAuthService(loadAuthConfig({ ...common(), DATABASE_POOL_SIZE: '4' }), { logDestination: logs });
  replicas.set(name, replica);
  return replica;
}

async function stopReplica(name: string): Promise<void> {
  await replicas.get(name)?.close();
  replicas.delete(name);
}

/** What one request with `key` on `path` must answer: a status and, for a refusal, the exact body. */
interface Expected {
  label: string;
  key: string;
  path: string;
  status: number;
  body?: unknown;
}

/** Every key made in this file, with what it must answer now; a change made to a key updates its entry. */
const expected = new Map<string, Expected>();
const expect200 = (label: string, key: string, path = '/v1/flows') => expected.set(label, { label, key, path, status: 200 });
const expectRefusal = (label: string, key: string, status: number, body: unknown, path = '/v1/flows') => expected.set(label, { label, key, path, status, body });

/** Every answer, over `CALLS` requests per tracked key, that is not what that key must answer, with how often it came. */
async function wrongAnswers(): Promise<{ label: string; status: number; body: unknown }[]> {
  const checks = [...expected.values()].flatMap((e) => Array.from({ length: CALLS }, () => e));
  const answers = await Promise.all(checks.map(async (e) => ({ e, answer: await call('GET', e.path, e.key) })));
  const wrong = new Map<string, { label: string; status: number; body: unknown; times: number }>();
  for (const { e, answer } of answers) {
    if (answer.status === e.status && (e.body === undefined || JSON.stringify(answer.body) === JSON.stringify(e.body))) continue;
    const body = answer.status === 200 ? '(allowed)' : answer.body;
    const id = `${e.label} ${answer.status} ${JSON.stringify(body)}`;
    const seen = wrong.get(id) ?? { label: e.label, status: answer.status, body, times: 0 };
    seen.times += 1;
    wrong.set(id, seen);
  }
  return [...wrong.values()];
}

/** Waits (bounded) until every key answers as it must; the assertion after it shows what users saw if not. */
const settled = () => waitFor('every key to answer as it must', async () => (await wrongAnswers()).length === 0, HEAL_TIMEOUT_MS, 250).catch(() => undefined);




const lastSequence = async () => (await jsm.streams.info(ns.ns.streams.keyEvents)).state.last_seq;
const rebuilds = () => metric(keys.url, 'keys_key_event_stream_rebuilds_total');
const decisions = (replica: ServiceHandle, reason: string) => metric(replica.url, 'auth_decisions_total{', (line) => line.includes(`reason="${reason}"`));

/** A replica's events not folded into its view, by the reasons that tell a replay from a refusal. */
async function skipped(replica: ServiceHandle) {
  const count = (reason: string) => metric(replica.url, 'auth_key_events_skipped_total{', (line) => line.includes(`reason="${reason}"`));
  return { alreadyApplied: await count('already_applied'), doesNotFit: await count('does_not_fit') };
}

async function readiness(replica: ServiceHandle): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${replica.url}/readyz`);
  return { status: response.status, body: await response.json() };
}

/** Waits (bounded) until a replica is ready and has applied the stream up to its last message. */
async function following(replica: ServiceHandle, streamEnd = lastSequence) {
  const level = async () => (await readiness(replica)).status === 200 && (await metric(replica.url, 'auth_key_view_sequence')) === (await streamEnd());
  await waitFor('the replica to follow the stream', level, HEAL_TIMEOUT_MS, 100).catch(() => undefined);
  return { readiness: await readiness(replica), applied: await metric(replica.url, 'auth_key_view_sequence'), stream: await streamEnd().catch(() => -1) };
}

const READY = { status: 200, body: { status: 'ready', checks: { nats: true, postgres: true, 'key-view': true } } };

/** Revokes a key through the management API and records that it must now answer 401 revoked. */
async function revoke(label: string, key: { key: string; id: string }): Promise<TimedAnswer> {
  const answer = await call('POST', `/v1/api-keys/${key.id}/revoke`, adminKey, { reason: 'leaked' });
  expectRefusal(label, key.key, 401, REVOKED);
  return answer;
}

/**
 * A revocation is in force on every running replica: every answer is 401 revoked, and each replica
 * gave some of them (read from its own /metrics, since the gateway picks one at random).
 */
async function revokedEverywhere(label: string) {
  const before = new Map<string, number>();
  for (const [name, replica] of replicas) before.set(name, await decisions(replica, 'revoked'));
  const { key } = expected.get(label)!;
  await waitFor('the revocation on every replica', async () => (await call('GET', '/v1/flows', key)).status === 401, HEAL_TIMEOUT_MS, 20).catch(() => undefined);
  const answers = await Promise.all(Array.from({ length: CALLS * 2 }, () => call('GET', '/v1/flows', key)));
  const answeredRevoked: Record<string, boolean> = {};
  for (const [name, replica] of replicas) answeredRevoked[name] = (await decisions(replica, 'revoked')) > before.get(name)!;
  return { answers: [...new Set(answers.map((a) => JSON.stringify({ status: a.status, body: a.body })))], answeredRevoked };
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  database = await freshDatabase('e2e_key_stream_loss');
  ns = freshNamespace();
  keysDb = createKysely<KeysDatabase>({ url: database.url, max: 2 }).withSchema('keys');
  await startKeys();
  await startReplica('a');
  demo = await startDemoApiService(loadDemoApiConfig({ PORT: '0', HOST: '127.0.0.1' }), { logDestination: logs });
  gateway = await startGatewayService(
    loadGatewayConfig({
      ...common(),
      PORT: '0',
      METRICS_PORT: '0',
      UPSTREAM_URL: demo.url,
      AUTH_TIMEOUT_MS: '2000',
      // Longer than keys' own 5 s publish wait, so a command answers with keys' own reply.
      KEYS_TIMEOUT_MS: '10000',
    }),
    { logDestination: logs },
  );
  nc = await connectNats({ url: TEST_NATS_URL, name: 'key-stream-loss-test' });
  jsm = await jetstreamManager(nc);
}, 60_000);

afterAll(async () => {
  for (const service of [gateway, demo, ...replicas.values(), keys]) await service?.close().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await keysDb?.destroy().catch(() => undefined);
  await ns?.cleanup().catch(() => undefined);
  await database?.drop().catch(() => undefined);
  process.off('unhandledRejection', onUnhandled);
}, 60_000);

// ---------------------------------------------------------------------------------------------

describe('the key event stream deleted while keys and auth run', () => {
  const victim = { key: '', id: '' };
  let revokeAfter: TimedAnswer;
  let createdAfter: TimedAnswer;
  let before: { wrong: unknown[]; lastSequence: number; stored: number };
  let skippedBefore: { alreadyApplied: number; doesNotFit: number };

  beforeAll(async () => {
    const existing = await createKey('existing');
    expect200('existing', existing.key);
    const revokedEarly = await createKey('revoked before the loss');
    expect((await revoke('revoked before the loss', revokedEarly)).status).toBe(200);
    const rotated = await createKey('rotated before the loss');
    const rotation = await call('POST', `/v1/api-keys/${rotated.id}/rotate`, adminKey, { gracePeriodSeconds: 0 });
    expect(rotation.status).toBe(200);
    expectRefusal('rotated-out secret', rotated.key, 401, INVALID);
    expect200('rotated-in secret', rotation.body.key);
    // The secret a rotation replaced keeps its grace period through the loss.
    const twice = await createKey('rotated twice before the loss');
    const first = await call('POST', `/v1/api-keys/${twice.id}/rotate`, adminKey, { gracePeriodSeconds: 0 });
    const second = await call('POST', `/v1/api-keys/${twice.id}/rotate`, adminKey, { gracePeriodSeconds: 3600 });
    expect([first.status, second.status]).toEqual([200, 200]);
    expectRefusal('secret rotated out twice ago', twice.key, 401, INVALID);
    expect200('secret in its grace period', first.body.key);
    expect200('secret rotated in last', second.body.key);
    const narrowed = await createKey('narrowed before the loss');
    expect((await call('PATCH', `/v1/api-keys/${narrowed.id}`, adminKey, { permissions: ['RECORDS:READ'] })).status).toBe(200);
    expectRefusal('narrowed key on flows', narrowed.key, 403, NO_FLOWS_READ);
    expect200('narrowed key on records', narrowed.key, '/v1/records');
    Object.assign(victim, await createKey('victim'));
    expect200('victim', victim.key);
    // Messages the store does not hold put the stream's sequence numbers ahead of the store's
    // events, so that a consumer resuming at its old sequence number on the rebuilt stream would
    // skip what comes after the loss. Like copies of the last event, they carry its position, so
    // the relay takes the stream as whole; auth skips them as already applied.
    const copy = headers();
    copy.set(POSITION_HEADER, String((await storedKeyEvents(keysDb)).at(-1)!.position));
    for (let i = 0; i < 40; i++) {
      await jetstream(nc).publish(ns.ns.subjects.keyEvents.forKey(existing.id), encodeJson({ type: 'KeyArchived', version: 1, n: i }), { headers: copy });
    }
    expect200('last before the loss', (await createKey('last before the loss')).key);
    await settled();
    before = { wrong: await wrongAnswers(), lastSequence: await lastSequence(), stored: (await storedKeyEvents(keysDb)).length };

    skippedBefore = await skipped(replicas.get('a')!);
    await jsm.streams.delete(ns.ns.streams.keyEvents);
    revokeAfter = await revoke('victim', victim);
    createdAfter = await call('POST', '/v1/api-keys', adminKey, { name: 'created after the loss', permissions: ['FLOWS:READ'], rateLimits: LIMITS });
    if (createdAfter.status === 201) expect200('created after the loss', createdAfter.body.key);
  }, 90_000);

  it('before the loss every key answered as it must, on a stream ahead of the store', () => {
    expect(before.wrong).toEqual([]);
    expect(before.lastSequence).toBeGreaterThan(before.stored);
  });

  it('keys answers commands made after the loss as usual, without a restart (revoke 200, create 201)', () => {
    expect({ status: revokeAfter.status, keyStatus: revokeAfter.body?.status }).toEqual({ status: 200, keyStatus: 'revoked' });
    expect({ status: createdAfter.status, body: createdAfter.status === 201 ? 'created' : createdAfter.body }).toEqual({ status: 201, body: 'created' });
  });

  it('keys makes the stream again holding every stored event once, in store order, with its event id as Nats-Msg-Id', async () => {
    const { stream, store } = await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    expect(stream).toEqual(store);
  });

  it('the running auth replica keeps every key as it was and applies the changes made after the loss', async () => {
    await settled();
    expect(await wrongAnswers()).toEqual([]);
  });

  it('the revocation made after the loss is in force on the running replica', async () => {
    expect(await revokedEverywhere('victim')).toEqual({ answers: [JSON.stringify({ status: 401, body: REVOKED })], answeredRevoked: { a: true } });
  });

  it('the running replica folded no event twice: every one published again was skipped as already applied', async () => {
    await following(replicas.get('a')!);
    expect(await skipped(replicas.get('a')!)).toEqual({ alreadyApplied: skippedBefore.alreadyApplied + before.stored, doesNotFit: skippedBefore.doesNotFit });
  });

  it('the running replica is ready and has applied the rebuilt stream to its last message', async () => {
    const state = await following(replicas.get('a')!);
    expect(state).toEqual({ readiness: READY, applied: state.stream, stream: state.stream });
  });

  it('keys counts the rebuild (keys_key_event_stream_rebuilds_total) and logs it once', async () => {
    expect(await rebuilds()).toBe(1);
    expect(logs.lines.filter((l) => l.includes('key event stream lost events')).length).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the stream lost while keys is down, a new auth replica started meanwhile, then keys restarted', () => {
  const victim = { key: '', id: '' };
  let revokeAfter: TimedAnswer;

  beforeAll(async () => {
    Object.assign(victim, await createKey('victim while keys was down'));
    expect200('victim while keys was down', victim.key);
    await settled();
    await keys.close();
    await jsm.streams.delete(ns.ns.streams.keyEvents);
    // A replica starting now makes the stream itself, empty, as auth does at start-up.
    await startReplica('b');
    await startKeys();
    // Until keys has published the store again, the new replica knows no key, the admin's included.
    await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    revokeAfter = await revoke('victim while keys was down', victim);
  }, 90_000);

  it('keys republishes every stored event when it starts on the empty stream, and counts that rebuild', async () => {
    const { stream, store } = await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    expect(stream).toEqual(store);
    expect(await rebuilds()).toBe(1);
  });

  it('every key answers as before on both replicas, the new one included: no 401 outage', async () => {
    await settled();
    expect(await wrongAnswers()).toEqual([]);
  });

  it('a revocation after the restart is in force on both replicas', async () => {
    expect(revokeAfter.status).toBe(200);
    expect(await revokedEverywhere('victim while keys was down')).toEqual({
      answers: [JSON.stringify({ status: 401, body: REVOKED })],
      answeredRevoked: { a: true, b: true },
    });
  });

  it('both replicas are ready and level with the stream', async () => {
    for (const name of ['a', 'b']) {
      const state = await following(replicas.get(name)!);
      expect({ name, ...state }).toEqual({ name, readiness: READY, applied: state.stream, stream: state.stream });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('the stream purged while everything runs (its message ids still in the duplicate window)', () => {
  const victim = { key: '', id: '' };
  let revokeAfter: TimedAnswer;

  beforeAll(async () => {
    Object.assign(victim, await createKey('victim of the purge'));
    expect200('victim of the purge', victim.key);
    await settled();
    await jsm.streams.purge(ns.ns.streams.keyEvents);
    revokeAfter = await revoke('victim of the purge', victim);
  }, 90_000);

  it('keys makes the stream anew holding every stored event once, and counts that rebuild', async () => {
    const { stream, store } = await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    expect(stream).toEqual(store);
    expect(await rebuilds()).toBe(2);
  });

  it('the running replicas keep every key, and the revocation after the purge is in force on both', async () => {
    expect(revokeAfter.status).toBe(200);
    await settled();
    expect(await wrongAnswers()).toEqual([]);
    expect(await revokedEverywhere('victim of the purge')).toEqual({
      answers: [JSON.stringify({ status: 401, body: REVOKED })],
      answeredRevoked: { a: true, b: true },
    });
  });

  it('a replica started afterwards, answering alone, answers every key as before', async () => {
    await startReplica('c');
    await stopReplica('a');
    await stopReplica('b');
    expect(await following(replicas.get('c')!)).toEqual({ readiness: READY, applied: await lastSequence(), stream: await lastSequence() });
    expect(await wrongAnswers()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("under infra/nats/nats.conf as shipped, keys' and auth's own NATS users suffice to remake and follow the stream", () => {
  let server: ConfiguredNats;
  let shippedDb: FreshDatabase;
  const services: ServiceHandle[] = [];
  let keysAsUser: NatsConnection;
  let before: { created: string; messages: number };
  let after: { created: string; stored: { id: string; position: number }[]; onStream: unknown; rebuilds: number; auth: unknown };

  beforeAll(async () => {
    server = await startConfiguredNats();
    shippedDb = await freshDatabase('e2e_key_stream_loss_shipped');
    const env = { NATS_PREFIX: '', HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', DATABASE_URL: shippedDb.url };
    const shippedKeys = await startKeysService(loadKeysConfig({ ...env, NATS_URL: server.urlFor('keys'), BOOTSTRAP_ADMIN_KEY: adminKey }), { logDestination: logs });
    services.push(shippedKeys);
    const shippedAuth = await startAuthService(loadAuthConfig({ ...env, NATS_URL: server.urlFor('auth'), DATABASE_POOL_SIZE: '2' }), { logDestination: logs });
    services.push(shippedAuth);
    keysAsUser = await connectNats({ url: server.urlFor('keys'), name: 'key-stream-loss-keys-user' });
    const jsmAsKeys = await jetstreamManager(keysAsUser);
    const stream = contractsNamespace('').streams.keyEvents;
    const info = await jsmAsKeys.streams.info(stream);
    before = { created: info.created, messages: info.state.messages };
    // The one loss these users can cause: messages published by hand with keys' credentials, so
    // many that none near the end says where the stream stands; keys must delete it to remake it.
    for (let i = 0; i < OUTBOX_STREAM_LOOK_BACK; i++) {
      await jetstream(keysAsUser).publish(contractsNamespace('').subjects.keyEvents.forKey(`key_${'0'.repeat(26)}`), encodeJson({ by: 'hand', i }));
    }
    const store = createKysely<KeysDatabase>({ url: shippedDb.url, max: 1 }).withSchema('keys');
    try {
      const stored = (await store.selectFrom('events').select(['event_id', 'global_position']).orderBy('global_position').execute()).map((r) => ({
        id: r.event_id,
        position: Number(r.global_position),
      }));
      const remade = async () => {
        const now = await jsmAsKeys.streams.info(stream);
        return now.created !== before.created && now.state.messages === stored.length;
      };
      await waitFor('keys to remake the stream', remade, HEAL_TIMEOUT_MS, 100).catch(() => undefined);
      const now = await jsmAsKeys.streams.info(stream);
      const onStream = [];
      for (let seq = now.state.first_seq; now.state.messages > 0 && seq <= now.state.last_seq; seq++) {
        const m = await jsmAsKeys.streams.getMessage(stream, { seq });
        if (m) onStream.push({ id: m.header.get('Nats-Msg-Id'), position: Number(m.header.get(POSITION_HEADER)) });
      }
      await following(shippedAuth, async () => (await jsmAsKeys.streams.info(stream)).state.last_seq);
      after = {
        created: now.created,
        stored,
        onStream,
        rebuilds: await metric(shippedKeys.url, 'keys_key_event_stream_rebuilds_total'),
        auth: { readiness: await readiness(shippedAuth), refollowed: await metric(shippedAuth.url, 'auth_key_view_refollowed_total{', (line) => line.includes('stream="new"')) },
      };
    } finally {
      await store.destroy();
    }
  }, 60_000);

  afterAll(async () => {
    await keysAsUser?.close().catch(() => undefined);
    for (const service of services.reverse()) await service.close().catch(() => undefined);
    await server?.stop();
    await shippedDb?.drop().catch(() => undefined);
  });

  it('keys deletes the stream that lost track and publishes every stored event again', () => {
    expect(before.messages).toBe(1);
    expect({ remade: after.created !== before.created, onStream: after.onStream, rebuilds: after.rebuilds }).toEqual({ remade: true, onStream: after.stored, rebuilds: 1 });
  });

  it('auth follows the stream made anew and is ready', () => {
    expect(after.auth).toEqual({ readiness: READY, refollowed: 1 });
  });
});

// ---------------------------------------------------------------------------------------------

describe('a healthy stream afterwards', () => {
  it('is never rebuilt: two more checks later it holds each stored event once and no rebuild was counted', async () => {
    const rebuildsBefore = await rebuilds();
    await sleep(2500);
    expect({ rebuilds: await rebuilds(), ...(await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS)) }).toEqual({ rebuilds: rebuildsBefore, stream: await storedKeyEvents(keysDb), store: await storedKeyEvents(keysDb) });
  });

  it('nothing was rejected unhandled anywhere in the file', () => {
    expect(unhandled.map(String)).toEqual([]);
  });
});
