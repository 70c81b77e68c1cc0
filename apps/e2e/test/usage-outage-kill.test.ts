import { DiscardPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { UsageBatch } from '@keyplane/contracts';
import type { ServiceHandle } from '@keyplane/runtime';
import { generateKey } from '@keyplane/key-format';
import { connectNats } from '@keyplane/nats';
import { CapturedLogs, freePort, freshDatabase, freshNamespace, TEST_NATS_URL, waitFor, type FreshDatabase, type FreshNamespace } from '@keyplane/testing';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { startDemoApiService } from '../../demo-api/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { startGatewayService, type GatewayHandle } from '../../gateway/src/start.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import { startKeysService } from '../../keys/src/start.js';
import { outageClient, type TimedAnswer } from './outage-client.js';
import { buildOnce, startServiceProcess, type ListeningService } from './service-process.js';
import { awayFromHourEnd, hourEndWaitMs } from './stack.js';

// A SIGKILL of auth while the usage stream refuses writes (docs/operations.md "What can be
// lost"; auth README "What can be lost"). Auth runs as its own process, from the build, as in a
// pod; keys, the gateway and the demo API run in this one. What the kill may lose is bounded:
// the events auth held, at most USAGE_QUEUE_CAPACITY; the quota counters, in Postgres, stay exact.

const CAPACITY = 100;
const BEFORE = 20;
const DURING = 150;
const AFTER = 5;

let database: FreshDatabase;
let ns: FreshNamespace;
const logs = new CapturedLogs();
const adminKey = generateKey({ environment: 'live' }).key;
let keys: ServiceHandle;
let demo: ServiceHandle;
let gateway: GatewayHandle;
const auths: ListeningService[] = [];
let nc: NatsConnection;
let jsm: JetStreamManager;
const { createKey, burst, authUsed, metric } = outageClient({ gatewayUrl: () => gateway.url, databaseUrl: () => database.url, adminKey });

/** One auth replica as a process on this file's database and namespace; leases off, so its counter moves by exactly one per decision. */
async function startAuth(): Promise<ListeningService> {
  const auth = await startServiceProcess('auth', await freePort(), {
    NATS_URL: TEST_NATS_URL,
    NATS_PREFIX: ns.ns.prefix,
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '4',
    QUOTA_LEASE_MAX: '0',
    USAGE_QUEUE_CAPACITY: String(CAPACITY),
    LOG_LEVEL: 'warn',
  });
  auths.push(auth);
  return auth;
}

/** Usage events of one key on the usage stream: every event of every `UsageBatch` message. */
async function eventsOnStream(keyId: string): Promise<number> {
  const { state } = await jsm.streams.info(ns.ns.streams.usageEvents);
  if (state.messages === 0) return 0;
  const messages = await (await jetstream(nc).consumers.get(ns.ns.streams.usageEvents)).consume();
  let events = 0;
  for await (const message of messages) {
    events += message.json<UsageBatch>().events.filter((event) => event.keyId === keyId).length;
    if (message.seq >= state.last_seq) break;
  }
  await messages.close();
  return events;
}

/** Makes the usage stream refuse every write (full, discarding new), as degraded-storage.test.ts does; returns how to restore it. */
async function refuseUsageWrites(): Promise<() => Promise<void>> {
  const info = await jsm.streams.info(ns.ns.streams.usageEvents);
  const original = { max_msgs: info.config.max_msgs, discard: info.config.discard };
  await jsm.streams.update(ns.ns.streams.usageEvents, { ...info.config, max_msgs: Math.max(1, info.state.messages), discard: DiscardPolicy.New });
  return async () => {
    const now = await jsm.streams.info(ns.ns.streams.usageEvents);
    await jsm.streams.update(ns.ns.streams.usageEvents, { ...now.config, ...original });
  };
}

/** `n` requests, ten at a time. */
async function requests(n: number, key: string): Promise<TimedAnswer[]> {
  const answers: TimedAnswer[] = [];
  while (answers.length < n) answers.push(...(await burst(Math.min(10, n - answers.length), key)));
  return answers;
}

beforeAll(async () => {
  buildOnce();
  database = await freshDatabase('e2e_usage_outage_kill');
  ns = freshNamespace();
  const common = { NATS_URL: TEST_NATS_URL, NATS_PREFIX: ns.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1' };
  keys = await startKeysService(loadKeysConfig({ ...common, DATABASE_URL: database.url, BOOTSTRAP_ADMIN_KEY: adminKey }), { logDestination: logs });
  await startAuth();
  demo = await startDemoApiService(loadDemoApiConfig({ PORT: '0', HOST: '127.0.0.1' }), { logDestination: logs });
  gateway = await startGatewayService(
    loadGatewayConfig({ ...common, PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', UPSTREAM_URL: demo.url, AUTH_TIMEOUT_MS: '2000', KEYS_TIMEOUT_MS: '2000' }),
    { logDestination: logs },
  );
  nc = await connectNats({ url: TEST_NATS_URL, name: 'usage-outage-kill-test' });
  jsm = await jetstreamManager(nc);
  await awayFromHourEnd(60);
}, 120_000 + hourEndWaitMs(60));

afterAll(async () => {
  for (const auth of auths) if (auth.child.exitCode === null && auth.child.signalCode === null) auth.child.kill('SIGTERM');
  await Promise.all(auths.map((auth) => auth.exited));
  for (const service of [gateway, demo, keys]) await service?.close().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await ns?.cleanup().catch(() => undefined);
  await database?.drop().catch(() => undefined);
}, 60_000);

describe('auth killed (SIGKILL) while the usage stream refuses writes', () => {
  let key: { key: string; id: string };
  const answers: TimedAnswer[] = [];
  let heldAtKill = { pending: 0, dropped: 0 };
  let killedBy: NodeJS.Signals | null = null;
  let afterRestart: TimedAnswer[] = [];

  beforeAll(async () => {
    const [auth] = auths;
    key = await createKey('usage-outage-kill', ['FLOWS:READ'], { hour: 10_000, day: 100_000 });
    answers.push(...(await requests(BEFORE, key.key)));
    await waitFor('auth to publish the events before the outage', async () => (await metric(auth!.url, 'auth_usage_events_pending')) === 0, 10_000, 50);
    const restore = await refuseUsageWrites();
    try {
      answers.push(...(await requests(DURING, key.key)));
      // Every decision has recorded its event before its reply: auth holds what fits and has dropped the rest.
      heldAtKill = await waitFor('auth to hold a full queue', async () => {
        const held = { pending: await metric(auth!.url, 'auth_usage_events_pending'), dropped: await metric(auth!.url, 'auth_usage_events_dropped_total') };
        return held.pending + held.dropped === DURING ? held : undefined;
      }, 10_000, 50);
      auth!.child.kill('SIGKILL');
      killedBy = (await auth!.exited).signal;
    } finally {
      await restore();
    }
    // A replacement, as Kubernetes starts one: it must decide and publish as usual.
    await startAuth();
    afterRestart = await requests(AFTER, key.key);
    await waitFor('the replacement to publish', async () => (await metric(auths[1]!.url, 'auth_usage_events_pending')) === 0, 10_000, 50);
  }, 120_000);

  it('every request was answered 200, during the outage too', () => {
    expect([...answers, ...afterRestart].filter((a) => a.status !== 200).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
  });

  it('auth held USAGE_QUEUE_CAPACITY events when it was killed and had dropped (and counted) the rest', () => {
    expect({ killedBy, ...heldAtKill }).toEqual({ killedBy: 'SIGKILL', pending: CAPACITY, dropped: DURING - CAPACITY });
  });

  it('the kill lost exactly the events auth held (at most USAGE_QUEUE_CAPACITY), nothing stored before the outage, nothing after', async () => {
    const stored = await eventsOnStream(key.id);
    const decided = answers.length + afterRestart.length;
    expect({ decided, stored, lostToTheKill: decided - stored - heldAtKill.dropped }).toEqual({
      decided: BEFORE + DURING + AFTER,
      stored: BEFORE + AFTER,
      lostToTheKill: heldAtKill.pending,
    });
  });

  it("the quota counter is exact regardless: every decision counted once, in Postgres", async () => {
    expect(await authUsed(key.id)).toBe(BEFORE + DURING + AFTER);
  });
});
