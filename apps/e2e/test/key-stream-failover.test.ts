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
import { answerToKey, keyStreamAndStore, keyStreamEvents, storeBackTo, storedKeyEvents } from './key-stream-contents.js';
import { outageClient } from './outage-client.js';

// The keys store fails over (or is restored) to an earlier point while keys, auth and NATS run, and
// NATS keeps KEY_EVENTS. DESIGN §2: keys replies only once a command's events are on the stream, so
// a key works on the very next request after its create reply; and the auth replicas' key views are
// a projection of what the store holds, so a key the store lost stops working (keys README "When
// the key event stream loses its history", auth README "The key view").

const INVALID = { error: 'Unauthorized', details: 'Invalid or missing API key' };
const UNKNOWN = { status: 401, body: INVALID, challenge: 'Bearer' };
/** Bounds the waits for keys and auth to heal; the healthy path takes a few seconds at most. */
const HEAL_TIMEOUT_MS = 15_000;

let database: FreshDatabase;
let ns: FreshNamespace;
const logs = new CapturedLogs();
let keys: ServiceHandle | undefined;
const replicas: ServiceHandle[] = [];
let gateway: GatewayHandle | undefined;
let nc: NatsConnection;
let jsm: JetStreamManager;
let keysDb: Kysely<KeysDatabase>;
const admin = generateKey({ environment: 'live' }).key;
const { call } = outageClient({ gatewayUrl: () => gateway!.url, databaseUrl: () => database.url, adminKey: admin });
const common = () => ({ NATS_PREFIX: ns.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, DATABASE_URL: database.url });

/** What the gateway answers `key` on an endpoint every admin and KEYS:READ key may read. */
const answerFor = (key: string) => answerToKey(call, key);

/** Creates a key through the gateway and returns its secret. */
async function createKey(name: string): Promise<string> {
  const answer = await call('POST', '/v1/api-keys', admin, { name, permissions: ['KEYS:READ'] });
  if (answer.status !== 201) throw new Error(`create answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.key as string;
}

/** Waits (bounded) until every key works through the gateway. */
async function allWork(secrets: string[]): Promise<void> {
  await waitFor('every key to work', async () => (await Promise.all(secrets.map(answerFor))).every((a) => a.status === 200), HEAL_TIMEOUT_MS, 100);
}

/** What a replica's key view holds: how many times it was folded again, and how many keys it knows. */
async function viewOf(replica: ServiceHandle) {
  return { rebuilds: await metricTotal(replica.url, 'auth_key_view_rebuilds_total'), keys: await metricTotal(replica.url, 'auth_key_view_keys') };
}

const lastStoredPosition = async () => (await storedKeyEvents(keysDb)).at(-1)!.position;

beforeAll(async () => {
  database = await freshDatabase('e2e_key_stream_failover');
  ns = freshNamespace();
  keysDb = createKysely<KeysDatabase>({ url: database.url, max: 2 }).withSchema('keys');
  nc = await connectNats({ url: TEST_NATS_URL, name: 'key-stream-failover-test' });
  jsm = await jetstreamManager(nc);
  keys = await startKeysService(loadKeysConfig({ ...common(), BOOTSTRAP_ADMIN_KEY: admin }), { logDestination: logs });
  for (let i = 0; i < 2; i++) replicas.push(await startAuthService(loadAuthConfig({ ...common(), DATABASE_POOL_SIZE: '2' }), { logDestination: logs }));
  gateway = await startGatewayService(
    loadGatewayConfig({ ...common(), PORT: '0', METRICS_PORT: '0', UPSTREAM_URL: 'http://127.0.0.1:9', AUTH_TIMEOUT_MS: '2000', KEYS_TIMEOUT_MS: '5000' }),
    { logDestination: logs },
  );
}, 60_000);

afterAll(async () => {
  for (const service of [gateway, ...replicas, keys]) await service?.close().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await keysDb?.destroy().catch(() => undefined);
  await ns?.cleanup().catch(() => undefined);
  await database?.drop().catch(() => undefined);
}, 60_000);

describe('the store went back and stored nothing since, while keys and two auth replicas run', () => {
  const lost: string[] = [];

  beforeAll(async () => {
    const before = await lastStoredPosition();
    for (const name of ['lost one', 'lost two']) lost.push(await createKey(name));
    await allWork(lost);
    await storeBackTo(keysDb, before);
  }, 60_000);

  it('keys makes the stream anew holding exactly the stored events', async () => {
    const { stream, store } = await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    expect(store).toHaveLength(1);
    expect(stream).toEqual(store);
  });

  it('every running replica folds its view again, to exactly the keys the store holds, and is ready', async () => {
    const want = { rebuilds: 1, keys: 1 };
    const views = () => Promise.all(replicas.map(viewOf));
    await waitFor('every replica to fold its view again', async () => JSON.stringify(await views()) === JSON.stringify([want, want]), HEAL_TIMEOUT_MS, 100).catch(() => undefined);
    expect(await views()).toEqual([want, want]);
    expect(await Promise.all(replicas.map(async (replica) => (await fetch(`${replica.url}/readyz`)).status))).toEqual([200, 200]);
  });

  it('through the gateway, whichever replica answers, the lost keys are unknown and the admin the store kept works', async () => {
    const rounds = await Promise.all(Array.from({ length: 6 }, () => Promise.all([admin, ...lost].map(answerFor))));
    expect(rounds).toEqual(Array.from({ length: 6 }, () => [{ status: 200 }, UNKNOWN, UNKNOWN]));
  });
});

describe('a key created right after the store went back, while keys and auth run', () => {
  let made: string;
  /** The stream and the store at the moment the create was answered. */
  let atReply: { stream: string[]; store: string[] };

  beforeAll(async () => {
    const before = await lastStoredPosition();
    const lost = [await createKey('lost three'), await createKey('lost four')];
    await allWork(lost);
    await storeBackTo(keysDb, before);
    made = await createKey('made right after');
    atReply = {
      stream: (await keyStreamEvents(jsm, ns.ns.streams.keyEvents)).map((event) => event.id),
      store: (await storedKeyEvents(keysDb)).map((event) => event.id),
    };
  }, 60_000);

  it('its create is answered only once its event is on the stream', () => {
    expect(atReply.stream).toEqual(expect.arrayContaining([atReply.store.at(-1)]));
  });

  it('works on the very next request through the gateway', async () => {
    expect(await answerFor(made)).toEqual({ status: 200 });
  });

  it('and the stream ends up holding exactly the stored events', async () => {
    const { stream, store } = await keyStreamAndStore(jsm, ns.ns.streams.keyEvents, keysDb, HEAL_TIMEOUT_MS);
    expect(stream).toEqual(store);
  });
});
