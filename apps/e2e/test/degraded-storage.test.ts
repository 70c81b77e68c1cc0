import { jetstreamManager, DiscardPolicy, type JetStreamManager } from '@nats-io/jetstream';
import type { ServiceHandle } from '@keyplane/runtime';
import { generateKey } from '@keyplane/key-format';
import { connectNats, ensureStream } from '@keyplane/nats';
import { CapturedLogs, TEST_NATS_URL, waitFor } from '@keyplane/testing';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadAuthConfig } from '../../auth/src/config.js';
import { startAuthService } from '../../auth/src/start.js';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { awayFromHourEnd, hourEndWaitMs, sleep, startStack, type Stack } from './stack.js';
import { outageClient, UNAVAILABLE, type TimedAnswer } from './outage-client.js';
import { SHARED_POSTGRES, TcpProxy, withPort } from './tcp-proxy.js';

// Storage refusing writes while the rest works (DESIGN §2; docs/operations.md "What can be lost";
// auth, keys, metering READMEs): JetStream streams refusing writes while core NATS works, keys'
// own Postgres away, metering's own Postgres away. Keys and metering reach Postgres through
// forwarders of their own; streams live in this file's own namespace.

const KEYS_TIMEOUT_MS = 4000;
const KEYS_PUBLISH_TIMEOUT_MS = 1500;
const METERING_TIMEOUT_MS = 1000;
const SLACK_MS = 700;

let stack: Stack;
const logs = new CapturedLogs();
const adminKey = generateKey({ environment: 'live' }).key;
let pgKeys: TcpProxy;
let pgMetering: TcpProxy;
let keys: ServiceHandle;
let auth: ServiceHandle;
let metering: ServiceHandle;
let gateway: GatewayHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const { call, createKey, burst, currentHourUsage, authUsed, metric } = outageClient({ gatewayUrl: () => gateway.url, databaseUrl: () => stack.databaseUrl, adminKey });

/** auth's hour counter once unspent leased units went back (QUOTA_LEASE_IDLE_MS, 1 s). */
async function authUsedSettled(id: string, expected: number): Promise<number> {
  return waitFor(`auth's counter to settle at ${expected}`, async () => ((await authUsed(id)) === expected ? expected : undefined), 5000, 200).catch(() => authUsed(id));
}

const usagePending = () => metric(auth.url, 'auth_usage_events_pending');
const usageFailures = () => metric(auth.url, 'auth_usage_publish_failures_total');
const usageDropped = () => metric(auth.url, 'auth_usage_events_dropped_total');
const usageSpilled = () => metric(auth.url, 'auth_usage_events_spilled_total');
const usageSpillWaiting = () => metric(auth.url, 'auth_usage_spill_events');
const usageDrained = () => metric(auth.url, 'auth_usage_events_drained_total');

/** Waits until metering's current hour for `id` holds `expected` requests, then a little longer to see no more arrive. */
async function settledUsage(id: string, expected: number, timeoutMs = 15_000) {
  await waitFor(
    `metering to count ${expected} requests of ${id}`,
    async () => {
      const u = await currentHourUsage(id);
      return u && u.requests >= expected ? u : undefined;
    },
    timeoutMs,
    200,
  ).catch(() => undefined);
  await sleep(1000);
  return currentHourUsage(id);
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  const pgPort = Number(SHARED_POSTGRES.port || 5432);
  pgKeys = await TcpProxy.start(SHARED_POSTGRES.hostname, pgPort);
  pgMetering = await TcpProxy.start(SHARED_POSTGRES.hostname, pgPort);
  stack = await startStack('e2e_degraded_storage', {
    adminKey,
    logs,
    authReplicas: 1,
    databaseUrlFor: (service, url) => (service === 'keys' ? withPort(url, pgKeys.port) : service === 'metering' ? withPort(url, pgMetering.port) : url),
    keysPublishTimeoutMs: KEYS_PUBLISH_TIMEOUT_MS,
    metering: { INGEST_RETRY_DELAY_MS: '200' },
    // The gateway's own default AUTH_TIMEOUT_MS, not the stack's longer one.
    gatewayEnv: { AUTH_TIMEOUT_MS: '1000', KEYS_TIMEOUT_MS: String(KEYS_TIMEOUT_MS), METERING_TIMEOUT_MS: String(METERING_TIMEOUT_MS) },
  });
  ({ keys, gateway } = stack);
  [auth] = stack.auth;
  metering = stack.metering()!;
  nc = await connectNats({ url: TEST_NATS_URL, name: 'degraded-storage-test' });
  jsm = await jetstreamManager(nc);
  await awayFromHourEnd(90);
}, 60_000 + hourEndWaitMs(90));

afterAll(async () => {
  for (const proxy of [pgKeys, pgMetering]) await proxy?.open().catch(() => undefined);
  await stack?.close().catch(() => undefined);
  for (const proxy of [pgKeys, pgMetering]) await proxy?.cut();
  await nc?.close().catch(() => undefined);
  process.off('unhandledRejection', onUnhandled);
}, 60_000);

// ---------------------------------------------------------------------------------------------

/**
 * One outage of the usage stream: `refuse` makes it refuse writes, traffic flows, `restore` puts
 * it back. Records what the gateway answered and what auth's publisher saw.
 */
function usageOutage(label: string, refuse: () => Promise<void>, restore: () => Promise<void>) {
  const BEFORE = 10;
  const DURING = 60;
  let key: { key: string; id: string };
  const answers: TimedAnswer[] = [];
  const during: TimedAnswer[] = [];
  let failuresDuring = 0;
  let pendingDuring = 0;
  let publishedDuring = 0;
  let spilledDuring = 0;
  let droppedBefore = 0;
  let decisionsBefore = 0;
  let drainedInMs = -1;

  beforeAll(async () => {
    key = await createKey(`usage-${label}`, ['FLOWS:READ'], { hour: 10_000, day: 100_000 });
    answers.push(...(await burst(BEFORE, key.key)));
    await waitFor('usage to be published', async () => (await usagePending()) === 0, 5000, 50);
    droppedBefore = await usageDropped();
    decisionsBefore = (await metric(auth.url, 'auth_usage_events_published_total')) + (await usageDrained());
    const failuresBefore = await usageFailures();
    const spilledBefore = await usageSpilled();
    await refuse();
    try {
      for (let i = 0; i < 3; i++) {
        during.push(...(await burst(DURING / 3, key.key)));
        await sleep(300);
      }
      answers.push(...during);
      await sleep(500);
      failuresDuring = (await usageFailures()) - failuresBefore;
      pendingDuring = await usagePending();
      publishedDuring = (await metric(auth.url, 'auth_usage_events_published_total')) + (await usageDrained()) - decisionsBefore;
      spilledDuring = (await usageSpilled()) - spilledBefore;
    } finally {
      await restore();
    }
    const restored = Date.now();
    await waitFor('auth to publish what it spilled', async () => (await usagePending()) === 0 && (await usageSpillWaiting()) === 0, 15_000, 100).then(
      () => (drainedInMs = Date.now() - restored),
      () => undefined,
    );
    answers.push(...(await burst(5, key.key)));
  }, 60_000);

  it('decisions keep being answered while the usage stream refuses writes (no 5xx, no slowdown)', () => {
    expect(during.length).toBe(DURING);
    expect(during.filter((a) => a.status !== 200).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
    expect(during.filter((a) => a.ms > 1000).map((a) => a.ms)).toEqual([]);
  });

  it('auth sees the refused publishes and spills the events to Postgres instead of holding them (publish failures counted, none left in memory)', () => {
    // A deleted stream may already be back (metering makes it again): what auth spilled, it may have published since.
    expect({ failuresCounted: failuresDuring > 0, spilledOrPublished: spilledDuring + publishedDuring >= DURING, spilled: spilledDuring > 0, pendingDuring }).toEqual({
      failuresCounted: true,
      spilledOrPublished: true,
      spilled: true,
      pendingDuring: 0,
    });
  });

  it('publishes everything it spilled once the stream is back, dropping nothing', async () => {
    expect(drainedInMs).toBeGreaterThanOrEqual(0);
    expect((await usageDropped()) - droppedBefore).toBe(0);
    const published = (await metric(auth.url, 'auth_usage_events_published_total')) + (await usageDrained()) - decisionsBefore;
    expect(published).toBeGreaterThanOrEqual(DURING + 5);
  });

  it('metering counts every decision once after restore, equal to auth\'s quota counter', async () => {
    const allowed = answers.filter((a) => a.status === 200).length;
    const usage = await settledUsage(key.id, answers.length);
    expect({ requests: usage?.requests, allowed: usage?.allowed, authUsed: await authUsedSettled(key.id, allowed) }).toEqual({
      requests: answers.length,
      allowed,
      authUsed: allowed,
    });
  });
}

describe('usage stream refusing writes while core NATS works (auth README "JetStream failing while core NATS works")', () => {
  describe('stream full: max_msgs reached with discard new', () => {
    let original: { max_msgs: number; discard: DiscardPolicy } | undefined;
    usageOutage(
      'full',
      async () => {
        const info = await jsm.streams.info(stack.ns.streams.usageEvents);
        original = { max_msgs: info.config.max_msgs, discard: info.config.discard };
        await jsm.streams.update(stack.ns.streams.usageEvents, { ...info.config, max_msgs: Math.max(1, info.state.messages), discard: DiscardPolicy.New });
      },
      async () => {
        const info = await jsm.streams.info(stack.ns.streams.usageEvents);
        await jsm.streams.update(stack.ns.streams.usageEvents, { ...info.config, max_msgs: original?.max_msgs ?? -1, discard: original?.discard ?? DiscardPolicy.Old });
      },
    );
  });

  describe('stream subject moved away (publishes get no stream)', () => {
    usageOutage(
      'subject',
      async () => {
        const info = await jsm.streams.info(stack.ns.streams.usageEvents);
        await jsm.streams.update(stack.ns.streams.usageEvents, { ...info.config, subjects: [`${stack.ns.subjects.usageEvents}-parked`] });
      },
      async () => {
        const info = await jsm.streams.info(stack.ns.streams.usageEvents);
        await jsm.streams.update(stack.ns.streams.usageEvents, { ...info.config, subjects: [stack.ns.subjects.usageEvents] });
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('key event stream refusing writes (keys README: 503, stored, published once when back)', () => {
  let victim: { key: string; id: string };
  let revoke: TimedAnswer;
  let duringOutage: TimedAnswer[] = [];
  let storedState: TimedAnswer;
  let messagesBefore = 0;
  let revokedInMs = -1;

  const keySubjectCount = async (id: string) => {
    const info = await jsm.streams.info(stack.ns.streams.keyEvents, { subjects_filter: stack.ns.subjects.keyEvents.forKey(id) });
    return (info.state.subjects as Record<string, number> | undefined)?.[stack.ns.subjects.keyEvents.forKey(id)] ?? 0;
  };

  beforeAll(async () => {
    victim = await createKey('victim');
    expect((await call('GET', '/v1/flows', victim.key)).status).toBe(200);
    messagesBefore = await keySubjectCount(victim.id);
    const info = await jsm.streams.info(stack.ns.streams.keyEvents);
    const original = { ...info.config };
    await jsm.streams.update(stack.ns.streams.keyEvents, { ...info.config, max_msgs: Math.max(1, info.state.messages), discard: DiscardPolicy.New });
    try {
      revoke = await call('POST', `/v1/api-keys/${victim.id}/revoke`);
      storedState = await call('GET', `/v1/api-keys/${victim.id}`);
      duringOutage = await burst(3, victim.key);
    } finally {
      const now = await jsm.streams.info(stack.ns.streams.keyEvents);
      await jsm.streams.update(stack.ns.streams.keyEvents, { ...now.config, max_msgs: original.max_msgs, discard: original.discard });
    }
    const restored = Date.now();
    for (;;) {
      const a = await call('GET', '/v1/flows', victim.key);
      if (a.status === 401) {
        revokedInMs = Date.now() - restored;
        break;
      }
      if (Date.now() - restored > 10_000) break;
      await sleep(100);
    }
    await sleep(1000);
  }, 60_000);

  it('the revoke answers the documented 503 within the publish timeout', () => {
    expect({ status: revoke.status, details: revoke.body?.details }).toEqual({
      status: 503,
      details: 'Key event stream unavailable: the change is stored and takes effect once published',
    });
    expect(revoke.ms).toBeLessThan(KEYS_PUBLISH_TIMEOUT_MS + SLACK_MS);
  });

  it('the change is stored (the key reads as revoked from keys)', () => {
    expect({ status: storedState.status, keyStatus: storedState.body?.status }).toEqual({ status: 200, keyStatus: 'revoked' });
  });

  it('once the stream is back the revocation is published by itself and takes effect on auth', () => {
    expect(duringOutage.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(revokedInMs).toBeGreaterThanOrEqual(0);
    expect(revokedInMs).toBeLessThan(5000);
  });

  it('the revocation is published exactly once', async () => {
    expect((await keySubjectCount(victim.id)) - messagesBefore).toBe(1);
  });

  it('key commands work normally again (a new key works on its next request)', async () => {
    const fresh = await createKey('after-key-stream');
    expect((await call('GET', '/v1/flows', fresh.key)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------

describe("keys' own Postgres away", () => {
  let existing: { key: string; id: string };
  let management: TimedAnswer[] = [];
  let apiDuring: TimedAnswer[] = [];
  let healthDuring = 0;
  let readyDuring = 0;
  let recoveredInMs = -1;
  let afterRecovery: { created: TimedAnswer; used?: TimedAnswer } | undefined;

  beforeAll(async () => {
    existing = await createKey('keys-pg-existing');
    expect((await call('GET', '/v1/flows', existing.key)).status).toBe(200);
    await pgKeys.cut();
    try {
      management = await Promise.all([
        call('POST', '/v1/api-keys', adminKey, { name: 'during', permissions: ['FLOWS:READ'] }),
        call('GET', '/v1/api-keys'),
        call('GET', `/v1/api-keys/${existing.id}`),
        call('PATCH', `/v1/api-keys/${existing.id}`, adminKey, { name: 'renamed' }),
      ]);
      apiDuring = await burst(5, existing.key);
      healthDuring = (await fetch(`${keys.url}/healthz`)).status;
      readyDuring = (await fetch(`${keys.url}/readyz`)).status;
      await sleep(500);
    } finally {
      await pgKeys.open();
    }
    const reopened = Date.now();
    for (;;) {
      const created = await call('POST', '/v1/api-keys', adminKey, { name: 'after-keys-pg', permissions: ['FLOWS:READ'] });
      if (created.status === 201) {
        recoveredInMs = Date.now() - reopened;
        afterRecovery = { created, used: await call('GET', '/v1/flows', created.body.key) };
        break;
      }
      if (Date.now() - reopened > 15_000) {
        afterRecovery = { created };
        break;
      }
      await sleep(200);
    }
  }, 60_000);

  it('management calls answer 503, promptly', () => {
    expect(management.map((a) => a.status)).toEqual([503, 503, 503, 503]);
    expect(management.filter((a) => a.ms > KEYS_TIMEOUT_MS + SLACK_MS).map((a) => a.ms)).toEqual([]);
  });

  it('with the gateway\'s documented body for keys being unavailable: Keys service unavailable', () => {
    expect(management.map((a) => ({ status: a.status, body: a.body }))).toEqual(Array(4).fill({ status: 503, body: UNAVAILABLE.keys }));
    expect(management.filter((a) => a.ms > KEYS_TIMEOUT_MS + SLACK_MS).map((a) => a.ms)).toEqual([]);
  });

  it('API requests with existing keys keep working (auth has its own view)', () => {
    expect(apiDuring.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('keys stays alive and reports not ready', () => {
    expect({ healthDuring, readyDuring }).toEqual({ healthDuring: 200, readyDuring: 503 });
  });

  it('recovers by itself: a key created after the outage works on its next request (relay resumed)', () => {
    expect(recoveredInMs).toBeGreaterThanOrEqual(0);
    expect(recoveredInMs).toBeLessThan(10_000);
    expect(afterRecovery?.used?.status).toBe(200);
  });

  it('the management call refused during the outage stored nothing (no key named "during")', async () => {
    const list = await call('GET', '/v1/api-keys?limit=1000');
    expect(list.status).toBe(200);
    expect((list.body.data as { name: string }[]).filter((k) => k.name === 'during' || k.name === 'renamed')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("metering's own Postgres away", () => {
  let key: { key: string; id: string };
  const answers: TimedAnswer[] = [];
  let queriesDuring: TimedAnswer[] = [];
  let healthDuring = 0;

  beforeAll(async () => {
    key = await createKey('metering-pg', ['FLOWS:READ'], { hour: 10_000, day: 100_000 });
    answers.push(...(await burst(10, key.key)));
    await settledUsage(key.id, 10, 5000);
    await pgMetering.cut();
    try {
      answers.push(...(await burst(30, key.key)));
      await sleep(500);
      answers.push(...(await burst(20, key.key)));
      queriesDuring = await Promise.all([
        call('GET', `/v1/api-keys/${key.id}/usage`),
        call('GET', `/v1/api-keys/${key.id}/events`),
        call('GET', '/v1/alerts'),
      ]);
      healthDuring = (await fetch(`${metering.url}/healthz`)).status;
      await sleep(2500); // past the ack wait: redeliveries while Postgres is still away
    } finally {
      await pgMetering.open();
    }
    answers.push(...(await burst(10, key.key)));
  }, 60_000);

  it('usage queries answer 503 Metering service unavailable promptly meanwhile', () => {
    expect(queriesDuring.map((a) => ({ status: a.status, body: a.body }))).toEqual(Array(3).fill({ status: 503, body: UNAVAILABLE.metering }));
    expect(queriesDuring.filter((a) => a.ms > METERING_TIMEOUT_MS + SLACK_MS).map((a) => a.ms)).toEqual([]);
  });

  it('metering stays alive', () => {
    expect(healthDuring).toBe(200);
  });

  it('after recovery every decision is counted exactly once (no loss, no double count)', async () => {
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const usage = await settledUsage(key.id, answers.length);
    await sleep(2500); // a further ack-wait: late redeliveries must change nothing
    const final = await currentHourUsage(key.id);
    expect({ settled: usage?.requests, final: final?.requests, allowed: final?.allowed, authUsed: await authUsedSettled(key.id, answers.length) }).toEqual({
      settled: answers.length,
      final: answers.length,
      allowed: answers.length,
      authUsed: answers.length,
    });
  });

  it('no unhandled rejections anywhere in the file', () => {
    expect(unhandled.map(String)).toEqual([]);
  });
});

describe('a small usage queue during a usage stream outage (auth README "Capacity"): Postgres takes what the stream refuses', () => {
  const CAPACITY = 100;
  let small: ServiceHandle;
  let key: { key: string; id: string };
  const answers: TimedAnswer[] = [];
  let spilledSmall = 0;
  let droppedSmall = 0;
  let droppedMain = 0;
  let dropLogs = 0;

  beforeAll(async () => {
    small = await startAuthService(
      loadAuthConfig({
        NATS_PREFIX: stack.ns.prefix,
        HTTP_PORT: '0',
        HTTP_HOST: '127.0.0.1',
        NATS_URL: TEST_NATS_URL,
        DATABASE_URL: stack.databaseUrl,
        DATABASE_POOL_SIZE: '4',
        USAGE_QUEUE_CAPACITY: String(CAPACITY),
      }),
      { logDestination: logs },
    );
    key = await createKey('capacity', ['FLOWS:READ'], { hour: 10_000, day: 100_000 });
    const mainBefore = await usageDropped();
    const logsBefore = logs.lines.length;
    const info = await jsm.streams.info(stack.ns.streams.usageEvents);
    const original = { max_msgs: info.config.max_msgs, discard: info.config.discard };
    await jsm.streams.update(stack.ns.streams.usageEvents, { ...info.config, max_msgs: Math.max(1, info.state.messages), discard: DiscardPolicy.New });
    try {
      for (let i = 0; i < 10; i++) {
        answers.push(...(await burst(30, key.key)));
        await sleep(200);
      }
    } finally {
      const now = await jsm.streams.info(stack.ns.streams.usageEvents);
      await jsm.streams.update(stack.ns.streams.usageEvents, { ...now.config, max_msgs: original.max_msgs, discard: original.discard });
    }
    await waitFor(
      'both replicas to drain',
      async () => ((await usagePending()) === 0 && (await metric(small.url, 'auth_usage_events_pending')) === 0 && (await usageSpillWaiting()) === 0 ? true : undefined),
      15_000,
      100,
    ).catch(() => undefined);
    spilledSmall = await metric(small.url, 'auth_usage_events_spilled_total');
    droppedSmall = await metric(small.url, 'auth_usage_events_dropped_total');
    droppedMain = (await usageDropped()) - mainBefore;
    dropLogs = logs.lines.slice(logsBefore).filter((l) => l.includes('usage event queue full')).length;
  }, 60_000);

  afterAll(async () => {
    await small?.close().catch(() => undefined);
  });

  // Dropping past the capacity, when Postgres refuses the spill too: apps/e2e/test/usage-outage-kill.test.ts.
  it('answers every request; the small replica spills far more than its capacity and drops nothing', () => {
    expect(answers.filter((a) => a.status !== 200).map((a) => a.status)).toEqual([]);
    expect({ spilledPastCapacity: spilledSmall > CAPACITY, droppedSmall, droppedMain, dropLogs }).toEqual({ spilledPastCapacity: true, droppedSmall: 0, droppedMain: 0, dropLogs: 0 });
  });

  it('metering counts exactly what was not counted as dropped (nothing lost silently, nothing twice)', async () => {
    const expected = answers.length - droppedSmall - droppedMain;
    const usage = await settledUsage(key.id, expected);
    expect({ requests: usage?.requests, authUsed: await authUsedSettled(key.id, answers.length) }).toEqual({ requests: expected, authUsed: answers.length });
  });
});

// Last: it takes metering's durable consumer with the stream.
describe('usage stream deleted while core NATS works, then recreated', () => {
  describe('stream deleted, then recreated as the services create it (ensureStream, same config)', () => {
    usageOutage(
      'deleted',
      async () => {
        await jsm.streams.delete(stack.ns.streams.usageEvents);
      },
      async () => {
        await ensureStream(nc, { name: stack.ns.streams.usageEvents, subjects: [stack.ns.subjects.usageEvents] });
      },
    );
  });

  it('metering has its durable consumer on the recreated stream again', async () => {
    const consumer = await jsm.consumers.info(stack.ns.streams.usageEvents, 'metering').then(
      (info) => ({ exists: true, pending: info.num_pending }),
      (error: unknown) => ({ exists: false, error: String(error) }),
    );
    const consumerErrors = logs.lines.filter((l) => l.includes('usage consumer stopped')).length;
    expect({ consumer, consumerErrorsLogged: consumerErrors }).toEqual({ consumer: { exists: true, pending: 0 }, consumerErrorsLogged: expect.any(Number) });
  });

  it('metering is consuming again afterwards (readyz usage-consumer)', async () => {
    const ready = await waitFor('metering ready', async () => ((await fetch(`${metering.url}/readyz`)).status === 200 ? true : undefined), 5000, 200).catch(() => false);
    expect(ready).toBe(true);
  });
});
