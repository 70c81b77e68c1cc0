import { DiscardPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import { encodeUsageBatch, type UsageBatch, type UsageRecorded } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import type { ServiceHandle } from '@keyplane/runtime';
import { generateKey } from '@keyplane/key-format';
import { connectNats, encodeJson } from '@keyplane/nats';
import {
  CapturedLogs,
  freePort,
  freshDatabase,
  freshNamespace,
  keyIdOf,
  TEST_NATS_URL,
  usageEvent,
  waitFor,
  type FreshDatabase,
  type FreshNamespace,
} from '@keyplane/testing';
import type { AuthDatabase } from '../../auth/src/db/schema.js';
import { UsageSpillStore } from '../../auth/src/usage/usage-spill-store.js';
import { loadDemoApiConfig } from '../../demo-api/src/config.js';
import { startDemoApiService } from '../../demo-api/src/start.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { startGatewayService, type GatewayHandle } from '../../gateway/src/start.js';
import { loadKeysConfig } from '../../keys/src/config.js';
import { startKeysService } from '../../keys/src/start.js';
import { outageClient, type TimedAnswer } from './outage-client.js';
import { buildOnce, startServiceProcess, type ListeningService } from './service-process.js';
import { awayFromHourEnd, hourEndWaitMs } from './stack.js';
import { SHARED_POSTGRES, TcpProxy, withPort } from './tcp-proxy.js';

// A SIGKILL of auth while the usage stream refuses writes (docs/operations.md "What can be
// lost"; auth README "What can be lost"). Auth runs as its own process, from the build, as in a
// pod; keys, the gateway and the demo API run in this one. Auth spills what the stream refuses
// to Postgres, so the kill loses none of it and the replicas after it publish it; only while
// its Postgres refuses too does it hold events in memory, at most USAGE_QUEUE_CAPACITY, and
// lose them with the process. The quota counters, in Postgres, stay exact throughout.

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
const proxies: TcpProxy[] = [];
let nc: NatsConnection;
let jsm: JetStreamManager;
let db: Kysely<AuthDatabase>;
const { createKey, burst, authUsed, metric } = outageClient({ gatewayUrl: () => gateway.url, databaseUrl: () => database.url, adminKey });

/** One auth replica as a process on this file's namespace and database (or `databaseUrl`); leases off, so its counter moves by exactly one per decision. */
async function startAuth(databaseUrl = database.url): Promise<ListeningService> {
  const auth = await startServiceProcess('auth', await freePort(), {
    NATS_URL: TEST_NATS_URL,
    NATS_PREFIX: ns.ns.prefix,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '4',
    QUOTA_LEASE_MAX: '0',
    USAGE_QUEUE_CAPACITY: String(CAPACITY),
    LOG_LEVEL: 'warn',
  });
  auths.push(auth);
  return auth;
}

/** Stops a replica with SIGTERM, as a rollout does, so that the next one alone takes the decisions. */
async function stopAuth(auth: ListeningService): Promise<void> {
  auth.child.kill('SIGTERM');
  await auth.exited;
}

/** Every usage event on the stream that `filter` picks: every event of every `UsageBatch` message. */
async function eventsOnStream(filter: (event: UsageRecorded) => boolean): Promise<UsageRecorded[]> {
  const { state } = await jsm.streams.info(ns.ns.streams.usageEvents);
  if (state.messages === 0) return [];
  const messages = await (await jetstream(nc).consumers.get(ns.ns.streams.usageEvents)).consume();
  const events: UsageRecorded[] = [];
  for await (const message of messages) {
    events.push(...message.json<UsageBatch>().events.filter(filter));
    if (message.seq >= state.last_seq) break;
  }
  await messages.close();
  return events;
}

/** How many events of `events` there are, and how many different event ids. */
const tally = (events: readonly UsageRecorded[]) => ({ events: events.length, distinct: new Set(events.map((event) => event.eventId)).size });

/** Messages waiting in auth's spill table. */
async function spilledRows(): Promise<number> {
  const { rows } = await db.selectFrom('auth.usage_spill').select((eb) => eb.fn.countAll<number>().as('rows')).executeTakeFirstOrThrow();
  return Number(rows);
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

/** What a replica's publisher had done with the events it decided, from its /metrics. */
async function publisherState(auth: ListeningService) {
  return {
    pending: await metric(auth.url, 'auth_usage_events_pending'),
    spilled: await metric(auth.url, 'auth_usage_events_spilled_total'),
    dropped: await metric(auth.url, 'auth_usage_events_dropped_total'),
  };
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
  db = createKysely<AuthDatabase>({ url: database.url, max: 2 });
  await awayFromHourEnd(60);
}, 120_000 + hourEndWaitMs(60));

afterAll(async () => {
  for (const auth of auths) if (auth.child.exitCode === null && auth.child.signalCode === null) auth.child.kill('SIGTERM');
  await Promise.all(auths.map((auth) => auth.exited));
  for (const proxy of proxies) await proxy.cut();
  for (const service of [gateway, demo, keys]) await service?.close().catch(() => undefined);
  await db?.destroy().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await ns?.cleanup().catch(() => undefined);
  await database?.drop().catch(() => undefined);
}, 60_000);

describe('auth killed (SIGKILL) while the usage stream refuses writes', () => {
  let key: { key: string; id: string };
  const answers: TimedAnswer[] = [];
  let atKill = { pending: NaN, spilled: NaN, dropped: NaN };
  let killedBy: NodeJS.Signals | null = null;
  let afterRestart: TimedAnswer[] = [];
  let replacement: ListeningService;

  beforeAll(async () => {
    const [auth] = auths;
    key = await createKey('usage-outage-kill', ['FLOWS:READ'], { hour: 10_000, day: 100_000 });
    answers.push(...(await requests(BEFORE, key.key)));
    await waitFor('auth to publish the events before the outage', async () => (await metric(auth!.url, 'auth_usage_events_pending')) === 0, 10_000, 50);
    const restore = await refuseUsageWrites();
    try {
      answers.push(...(await requests(DURING, key.key)));
      // Every decision has recorded its event before its reply: auth has spilled them all.
      atKill = await waitFor('auth to spill every event of the outage', async () => {
        const state = await publisherState(auth!);
        return state.spilled + state.dropped === DURING && state.pending === 0 ? state : undefined;
      }, 10_000, 50);
      auth!.child.kill('SIGKILL');
      killedBy = (await auth!.exited).signal;
    } finally {
      await restore();
    }
    // A replacement, as Kubernetes starts one: it publishes what the killed replica spilled, and decides and publishes as usual.
    replacement = await startAuth();
    afterRestart = await requests(AFTER, key.key);
    await waitFor('the replacement to publish its events and the spilled ones', async () => (await metric(replacement.url, 'auth_usage_events_pending')) === 0 && (await spilledRows()) === 0, 15_000, 50);
  }, 120_000);

  it('every request was answered 200, during the outage too', () => {
    expect([...answers, ...afterRestart].filter((a) => a.status !== 200).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
  });

  it('auth held nothing in memory when it was killed: it had spilled every event of the outage to Postgres, and dropped none though they were more than USAGE_QUEUE_CAPACITY', () => {
    expect({ killedBy, ...atKill }).toEqual({ killedBy: 'SIGKILL', pending: 0, spilled: DURING, dropped: 0 });
  });

  it('the kill lost nothing: every event decided, before, during and after the outage, is on the stream once, those of the outage published by the replacement', async () => {
    const decided = answers.length + afterRestart.length;
    expect({ decided, stored: tally(await eventsOnStream((event) => event.keyId === key.id)) }).toEqual({
      decided: BEFORE + DURING + AFTER,
      stored: { events: BEFORE + DURING + AFTER, distinct: BEFORE + DURING + AFTER },
    });
    expect({ drainedByReplacement: await metric(replacement.url, 'auth_usage_events_drained_total'), spilledRowsLeft: await spilledRows() }).toEqual({
      drainedByReplacement: DURING,
      spilledRowsLeft: 0,
    });
  });

  it('the quota counter is exact regardless: every decision counted once, in Postgres', async () => {
    expect(await authUsed(key.id)).toBe(BEFORE + DURING + AFTER);
  });
});

describe('auth killed while the usage stream and its Postgres both refuse writes (what can still be lost)', () => {
  // Unknown keys: auth decides them (401) without Postgres, so it keeps deciding with Postgres away.
  const unknownKey = generateKey({ environment: 'live' }).key;
  const isUnknown = (event: UsageRecorded) => event.keyId === null;
  const answers: TimedAnswer[] = [];
  let atKill = { pending: NaN, spilled: NaN, dropped: NaN };
  let spillFailures = 0;
  let afterRestart: TimedAnswer[] = [];

  beforeAll(async () => {
    await stopAuth(auths.at(-1)!);
    const pg = await TcpProxy.start(SHARED_POSTGRES.hostname, Number(SHARED_POSTGRES.port || 5432));
    proxies.push(pg);
    const auth = await startAuth(withPort(database.url, pg.port));
    answers.push(...(await requests(BEFORE, unknownKey)));
    await waitFor('auth to publish the events before the outage', async () => (await metric(auth.url, 'auth_usage_events_pending')) === 0, 10_000, 50);
    await pg.cut();
    const restore = await refuseUsageWrites();
    try {
      answers.push(...(await requests(DURING, unknownKey)));
      atKill = await waitFor('auth to hold a full queue', async () => {
        const state = await publisherState(auth);
        return state.pending + state.dropped === DURING ? state : undefined;
      }, 10_000, 50);
      spillFailures = await metric(auth.url, 'auth_usage_spill_failures_total');
      auth.child.kill('SIGKILL');
      await auth.exited;
    } finally {
      await restore();
    }
    const replacement = await startAuth();
    afterRestart = await requests(AFTER, unknownKey);
    await waitFor('the replacement to publish', async () => (await metric(replacement.url, 'auth_usage_events_pending')) === 0, 10_000, 50);
  }, 120_000);

  it('every unknown key was answered 401, during the outage too', () => {
    expect([...answers, ...afterRestart].filter((a) => a.status !== 401).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
  });

  it('with the spill refused, auth held USAGE_QUEUE_CAPACITY events in memory and dropped (and counted) the rest', () => {
    expect({ ...atKill, spillRefused: spillFailures > 0 }).toEqual({ pending: CAPACITY, spilled: 0, dropped: DURING - CAPACITY, spillRefused: true });
  });

  it('the kill lost exactly the events auth held (at most USAGE_QUEUE_CAPACITY), nothing decided before the outage, nothing after', async () => {
    const stored = tally(await eventsOnStream(isUnknown));
    const decided = answers.length + afterRestart.length;
    expect({ decided, stored, lostToTheKill: decided - stored.events - atKill.dropped }).toEqual({
      decided: BEFORE + DURING + AFTER,
      stored: { events: BEFORE + AFTER, distinct: BEFORE + AFTER },
      lostToTheKill: atKill.pending,
    });
  });
});

describe('two auth replicas draining the spill table at once', () => {
  // As many messages as a replica that died after a long outage might leave; Postgres slowed
  // for both replicas, so one alone would need longer than the drain's poll interval (3 s)
  // and the other joins in whatever the phase of its poll.
  const MESSAGES = 4000;
  const EVENTS_PER_MESSAGE = 5;
  const DELAY_MS = 15;
  const keyId = keyIdOf('two-drains');
  let replicas: ListeningService[] = [];
  const seeded = new Set<string>();

  beforeAll(async () => {
    await stopAuth(auths.at(-1)!);
    replicas = await Promise.all(
      [0, 1].map(async () => {
        const pg = await TcpProxy.start(SHARED_POSTGRES.hostname, Number(SHARED_POSTGRES.port || 5432));
        proxies.push(pg);
        const auth = await startAuth(withPort(database.url, pg.port));
        pg.delayMs = DELAY_MS;
        return auth;
      }),
    );
    const occurredAt = new Date().toISOString();
    const messages = Array.from({ length: MESSAGES }, () => {
      const events = Array.from({ length: EVENTS_PER_MESSAGE }, () => usageEvent({ keyId, occurredAt }));
      for (const event of events) seeded.add(event.eventId);
      return { events, body: encodeUsageBatch(events.map((event) => encodeJson(event))) };
    });
    // One statement: every row appears to both replicas at once.
    await new UsageSpillStore(db).spill(messages);
    await waitFor('the spill table to empty', async () => (await spilledRows()) === 0, 90_000, 200);
  }, 180_000);

  it('every spilled message was published by exactly one replica, and both took part', async () => {
    const drained = await Promise.all(replicas.map((auth) => metric(auth.url, 'auth_usage_messages_drained_total')));
    expect({ total: drained[0]! + drained[1]!, bothTookPart: drained.every((n) => n > 0), rowsLeft: await spilledRows() }).toEqual({
      total: MESSAGES,
      bothTookPart: true,
      rowsLeft: 0,
    });
  });

  it('every spilled event is on the stream exactly once, counted by event id', async () => {
    const stored = await eventsOnStream((event) => event.keyId === keyId);
    expect({ ...tally(stored), all: stored.every((event) => seeded.has(event.eventId)) }).toEqual({
      events: MESSAGES * EVENTS_PER_MESSAGE,
      distinct: MESSAGES * EVENTS_PER_MESSAGE,
      all: true,
    });
  });
});
