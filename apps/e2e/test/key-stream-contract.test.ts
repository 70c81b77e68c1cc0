import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import { createKysely } from '@keyplane/database';
import { generateKey } from '@keyplane/key-format';
import { connectNats } from '@keyplane/nats';
import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs, freshDatabase, freshNamespace, TEST_NATS_URL, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { loadAuthConfig } from '../../auth/src/config.js';
import { startAuthService } from '../../auth/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { startGatewayService, type GatewayHandle } from '../../gateway/src/start.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import type { Database as KeysDatabase } from '../../keys/src/db/schema.js';
import { startKeysService } from '../../keys/src/start.js';
import { metricTotal } from './metrics-total.js';
import { answerToKey, keyStreamAndStore, storeBackTo, storedKeyEvents } from './key-stream-contents.js';
import { outageClient } from './outage-client.js';

// DESIGN §2.1: nothing stored stays unpublished, and the key event stream carries what the store
// holds. Postgres is the source of truth (keys README "When the key event stream loses its
// history"). Here the store goes back to an earlier point while NATS keeps the stream: a restore
// from a backup, or a failover to a copy that lacked the last commits. The store then gives the
// positions the stream already carries to new events; the relay must not take those for published.

const INVALID = { error: 'Unauthorized', details: 'Invalid or missing API key' };
/** Bounds the waits for the stream to be made anew; the healthy path takes about a second. */
const HEAL_TIMEOUT_MS = 10_000;

let database: FreshDatabase;
let ns: FreshNamespace;
const logs = new CapturedLogs();
let keys: ServiceHandle | undefined;
const replicas: ServiceHandle[] = [];
let gateway: GatewayHandle | undefined;
let nc: NatsConnection;
let jsm: JetStreamManager;
let keysDb: Kysely<KeysDatabase>;
const admins = Array.from({ length: 4 }, () => generateKey({ environment: 'live' }).key);
const { call } = outageClient({ gatewayUrl: () => gateway!.url, databaseUrl: () => database.url, adminKey: admins[3] });
const common = () => ({ NATS_PREFIX: ns.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, DATABASE_URL: database.url });

/** Starts keys with `adminKey` as its bootstrap admin: a new one adds an admin, so each start stores a KeyIssued. */
const startKeys = async (adminKey: string) => {
  keys = await startKeysService(loadKeysConfig({ ...common(), BOOTSTRAP_ADMIN_KEY: adminKey }), { logDestination: logs });
};

async function startReplica(): Promise<ServiceHandle> {
  const replica = await startAuthService(loadAuthConfig({ ...common(), DATABASE_POOL_SIZE: '2' }), { logDestination: logs });
  replicas.push(replica);
  return replica;
}

/** Stops every auth replica but `kept`: the gateway's requests then all reach it. */
async function onlyReplica(kept: ServiceHandle): Promise<void> {
  for (const replica of replicas.filter((r) => r !== kept)) {
    await replica.close();
    replicas.splice(replicas.indexOf(replica), 1);
  }
}

/** What the gateway answers `key` on an endpoint every admin and KEYS:READ key may read. */
const answerFor = (key: string) => answerToKey(call, key);
const UNKNOWN = { status: 401, body: INVALID, challenge: 'Bearer' };

/** Waits (bounded) until every key answers as given; the assertion after it shows what came back if not. */
async function answers(expected: [string, unknown][]) {
  const now = () => Promise.all(expected.map(async ([key]) => answerFor(key)));
  const want = expected.map(([, answer]) => answer);
  await waitFor('every key to answer as it must', async () => JSON.stringify(await now()) === JSON.stringify(want), HEAL_TIMEOUT_MS, 100).catch(() => undefined);
  return now();
}

beforeAll(async () => {
  database = await freshDatabase('e2e_key_stream_contract');
  ns = freshNamespace();
  keysDb = createKysely<KeysDatabase>({ url: database.url, max: 2 }).withSchema('keys');
  nc = await connectNats({ url: TEST_NATS_URL, name: 'key-stream-contract-test' });
  jsm = await jetstreamManager(nc);
}, 60_000);

afterAll(async () => {
  for (const service of [gateway, ...replicas, keys]) await service?.close().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await keysDb?.destroy().catch(() => undefined);
  await ns?.cleanup().catch(() => undefined);
  await database?.drop().catch(() => undefined);
}, 60_000);

describe('the store restored to an earlier point while keys is down, the stream kept', () => {
  let running: ServiceHandle;

  beforeAll(async () => {
    await startKeys(admins[0]);
    running = await startReplica();
    gateway = await startGatewayService(
      loadGatewayConfig({ ...common(), PORT: '0', METRICS_PORT: '0', UPSTREAM_URL: 'http://127.0.0.1:9', AUTH_TIMEOUT_MS: '2000', KEYS_TIMEOUT_MS: '5000' }),
      { logDestination: logs },
    );
    // Two more starts, two more admins: positions 2 and 3, on the stream and in the running replica's view.
    for (const admin of admins.slice(1, 3)) {
      await keys!.close();
      await startKeys(admin);
    }
    await answers(admins.slice(0, 3).map((admin) => [admin, { status: 200 }]));
    await keys!.close();
    await storeBackTo(keysDb, 1);
    await startKeys(admins[3]);
  }, 60_000);

  it('keys makes the stream anew holding exactly the stored events: the one stored at a reused position included', async () => {
    const { stream, store } = await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    expect(store).toHaveLength(2);
    expect(stream).toEqual(store);
  });

  it('keys counts the rebuild and logs it once', async () => {
    expect(await metricTotal(keys!.url, 'keys_key_event_stream_rebuilds_total')).toBe(1);
    expect(logs.lines.filter((line) => line.includes('made it anew, publishing every stored event again'))).toHaveLength(1);
  });

  it('the running auth replica folds its view again: the admin stored after the restore works, the ones the store lost do not', async () => {
    expect(await answers([[admins[0], { status: 200 }], [admins[1], UNKNOWN], [admins[2], UNKNOWN], [admins[3], { status: 200 }]])).toEqual([
      { status: 200 },
      UNKNOWN,
      UNKNOWN,
      { status: 200 },
    ]);
    expect(await metricTotal(running.url, 'auth_key_view_rebuilds_total')).toBe(1);
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
  });

  it('a replica started afterwards, answering alone, answers the same on its first requests', async () => {
    await onlyReplica(await startReplica());
    expect(await Promise.all(admins.map((admin) => answerFor(admin)))).toEqual([{ status: 200 }, UNKNOWN, UNKNOWN, { status: 200 }]);
  });
});

describe('the store failed over to a copy that lacked the last commits while keys and auth run', () => {
  const lost: string[] = [];
  let made: string;

  beforeAll(async () => {
    const before = (await storedKeyEvents(keysDb)).at(-1)!.position;
    for (const name of ['lost one', 'lost two']) {
      const answer = await call('POST', '/v1/api-keys', admins[3], { name, permissions: ['KEYS:READ'] });
      if (answer.status !== 201) throw new Error(`create answered ${answer.status}`);
      lost.push(answer.body.key);
    }
    await answers(lost.map((key) => [key, { status: 200 }]));
    await storeBackTo(keysDb, before);
    const answer = await call('POST', '/v1/api-keys', admins[3], { name: 'after the failover', permissions: ['KEYS:READ'] });
    if (answer.status !== 201) throw new Error(`create answered ${answer.status}`);
    made = answer.body.key;
  }, 60_000);

  it('keys makes the stream anew holding exactly the stored events, without a restart', async () => {
    const { stream, store } = await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    expect(store.map((event) => event.position)).toEqual([1, 2, 3]);
    expect(stream).toEqual(store);
  });

  it('the running replica knows the key made after the failover, and not the ones the store lost', async () => {
    expect(await answers([[made, { status: 200 }], [lost[0], UNKNOWN], [lost[1], UNKNOWN]])).toEqual([{ status: 200 }, UNKNOWN, UNKNOWN]);
  });

  it('so does a replica started afterwards', async () => {
    await onlyReplica(await startReplica());
    expect(await Promise.all([made, ...lost].map((key) => answerFor(key)))).toEqual([{ status: 200 }, UNKNOWN, UNKNOWN]);
  });
});
