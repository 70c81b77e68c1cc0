import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ServiceHandle } from '@keyplane/runtime';
import { generateKey } from '@keyplane/key-format';
import { connectNats } from '@keyplane/nats';
import { CapturedLogs, TEST_NATS_URL, waitFor } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { awayFromHourEnd, hourEndWaitMs, RATE_LIMIT_HEADERS, startStack, type Stack } from './stack.js';
import { outageClient, UNAVAILABLE, type TimedAnswer } from './outage-client.js';
import { SHARED_POSTGRES, TcpProxy, withPort } from './tcp-proxy.js';

// Postgres stalled, not cut, for keys and for metering (docs/operations.md "Probes", "What can
// be lost"; keys and metering READMEs): a partition where connections stay open and no byte
// moves, so nothing fails and every query simply waits. Each service reaches Postgres through a
// forwarder of its own that the test stalls and releases; nothing is restarted.

const AUTH_TIMEOUT_MS = 2000;
const KEYS_TIMEOUT_MS = 1500;
const METERING_TIMEOUT_MS = 1000;
const ACK_WAIT_MS = 2000;
/** A readiness check that gets no answer counts as failed after this (natsReachable, pingDatabase). */
const CHECK_TIMEOUT_MS = 1000;
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

/** A probe as Kubernetes or an operator's curl sends it; no answer within 5 s reads as status 0. */
async function probe(url: string): Promise<{ status: number; ms: number; body: unknown; text: string }> {
  const started = Date.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  const text = (await response?.text().catch(() => undefined)) ?? 'no answer';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response?.status ?? 0, ms: Date.now() - started, body, text };
}

/** Messages on the key event stream for one key. */
async function keyEventsOnStream(id: string): Promise<number> {
  const subject = stack.ns.subjects.keyEvents.forKey(id);
  const info = await jsm.streams.info(stack.ns.streams.keyEvents, { subjects_filter: subject });
  return (info.state.subjects as Record<string, number> | undefined)?.[subject] ?? 0;
}

/** The key's lifecycle events as the audit endpoint lists them, oldest first. */
async function auditTypes(id: string): Promise<string[]> {
  const answer = await call('GET', `/v1/audit/events?keyId=${id}`);
  if (answer.status !== 200) throw new Error(`audit answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return (answer.body.data as { type: string }[]).map((event) => event.type).reverse();
}

/** Usage events metering stored for the key, read from its table. */
async function storedEvents(keyId: string): Promise<number> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    return (await client.query('SELECT count(*)::int AS n FROM metering.usage_events WHERE key_id = $1', [keyId])).rows[0].n as number;
  } finally {
    await client.end();
  }
}

/** Waits until `key` is answered 401 with `details` (auth applied what the relay published). */
async function refusedWith(key: string, details: string): Promise<TimedAnswer> {
  return waitFor(`auth to refuse the key with "${details}"`, async () => {
    const answer = await call('GET', '/v1/flows', key);
    return answer.status === 401 && answer.body?.details === details ? answer : undefined;
  }, 10_000, 100);
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  const pgPort = Number(SHARED_POSTGRES.port || 5432);
  pgKeys = await TcpProxy.start(SHARED_POSTGRES.hostname, pgPort);
  pgMetering = await TcpProxy.start(SHARED_POSTGRES.hostname, pgPort);
  stack = await startStack('e2e_degraded_stall', {
    adminKey,
    logs,
    authReplicas: 1,
    databaseUrlFor: (service, url) => (service === 'keys' ? withPort(url, pgKeys.port) : service === 'metering' ? withPort(url, pgMetering.port) : url),
    metering: { INGEST_ACK_WAIT_MS: String(ACK_WAIT_MS), INGEST_RETRY_DELAY_MS: '200' },
    gatewayEnv: { AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS), KEYS_TIMEOUT_MS: String(KEYS_TIMEOUT_MS), METERING_TIMEOUT_MS: String(METERING_TIMEOUT_MS) },
  });
  ({ keys, gateway } = stack);
  [auth] = stack.auth;
  metering = stack.metering()!;
  nc = await connectNats({ url: TEST_NATS_URL, name: 'degraded-stall-test' });
  jsm = await jetstreamManager(nc);
  await awayFromHourEnd(90);
}, 60_000 + hourEndWaitMs(90));

afterAll(async () => {
  for (const proxy of [pgKeys, pgMetering]) proxy?.release();
  await stack?.close().catch(() => undefined);
  for (const proxy of [pgKeys, pgMetering]) await proxy?.cut();
  await nc?.close().catch(() => undefined);
  process.off('unhandledRejection', onUnhandled);
}, 60_000);

// ---------------------------------------------------------------------------------------------

describe("keys' Postgres stalled while management calls come in", () => {
  let toRevoke: { key: string; id: string };
  let toRotate: { key: string; id: string };
  let toRead: { key: string; id: string };
  const before: Record<string, number> = {};
  let answers: Record<'create' | 'rotate' | 'revoke' | 'list' | 'get' | 'audit', TimedAnswer>;
  let apiDuring: TimedAnswer[] = [];
  let ready: Awaited<ReturnType<typeof probe>>;
  let health: Awaited<ReturnType<typeof probe>>;
  let metrics: Awaited<ReturnType<typeof probe>>;
  let afterStall: { created: TimedAnswer; used: TimedAnswer } | undefined;

  beforeAll(async () => {
    toRevoke = await createKey('stall-revoke');
    toRotate = await createKey('stall-rotate');
    toRead = await createKey('stall-read');
    for (const k of [toRevoke, toRotate, toRead]) expect((await call('GET', '/v1/flows', k.key)).status).toBe(200);
    for (const k of [toRevoke, toRotate]) before[k.id] = await keyEventsOnStream(k.id);
    pgKeys.stall();
    try {
      const [create, rotate, revoke, list, get, audit] = await Promise.all([
        call('POST', '/v1/api-keys', adminKey, { name: 'created-during-stall', permissions: ['FLOWS:READ'] }),
        call('POST', `/v1/api-keys/${toRotate.id}/rotate`, adminKey, {}),
        call('POST', `/v1/api-keys/${toRevoke.id}/revoke`, adminKey, { reason: 'stalled' }),
        call('GET', '/v1/api-keys'),
        call('GET', `/v1/api-keys/${toRead.id}`),
        call('GET', '/v1/audit/events'),
      ]);
      answers = { create, rotate, revoke, list, get, audit };
      [ready, health, metrics] = await Promise.all([probe(`${keys.url}/readyz`), probe(`${keys.url}/healthz`), probe(`${keys.url}/metrics`)]);
      apiDuring = await Promise.all([toRead, toRevoke, toRotate].map((k) => call('GET', '/v1/flows', k.key)));
    } finally {
      pgKeys.release();
    }
    const created = await waitFor('keys to take commands again', async () => {
      const answer = await call('POST', '/v1/api-keys', adminKey, { name: 'after-stall', permissions: ['FLOWS:READ'] });
      return answer.status === 201 ? answer : undefined;
    }, 15_000, 200);
    afterStall = { created, used: await call('GET', '/v1/flows', created.body.key) };
  }, 60_000);

  it('every management call answers 503 Keys service unavailable as JSON, within the gateway\'s KEYS_TIMEOUT_MS', () => {
    const seen = Object.fromEntries(Object.entries(answers).map(([name, a]) => [name, { status: a.status, type: a.type, body: a.body, inTime: a.ms < KEYS_TIMEOUT_MS + SLACK_MS }]));
    const expected = Object.fromEntries(Object.keys(answers).map((name) => [name, { status: 503, type: 'application/json', body: UNAVAILABLE.keys, inTime: true }]));
    expect(seen).toEqual(expected);
  });

  it('each 503 still carries the caller\'s rate-limit headers and a request id (auth decided it)', () => {
    for (const a of Object.values(answers)) {
      expect({ missing: RATE_LIMIT_HEADERS.filter((h) => a.headers.get(h) === null), requestId: a.headers.get('x-request-id') }).toEqual({
        missing: [],
        requestId: expect.stringMatching(/^req_/),
      });
    }
  });

  it('API requests with existing keys are unaffected (auth has its own view and its own store)', () => {
    expect(apiDuring.map((a) => a.status)).toEqual([200, 200, 200]);
  });

  it('keys stays alive and /readyz answers 503 naming postgres, within the check timeout rather than hanging', () => {
    expect({ health: health.status, ready: ready.status, body: ready.body, inTime: ready.ms < CHECK_TIMEOUT_MS + SLACK_MS }).toEqual({
      health: 200,
      ready: 503,
      body: { status: 'not ready', checks: { nats: true, postgres: false, migrations: true, relay: true } },
      inTime: true,
    });
  });

  it('/metrics is served, with keys_outbox_relay_lag NaN (unknown), as when Postgres is away', () => {
    // prom-client writes NaN as `Nan`; Prometheus reads either.
    const lag = /^keys_outbox_relay_lag(?:{[^}]*})? (\S+)$/m.exec(metrics.text)?.[1];
    expect({ status: metrics.status, lag: lag?.toLowerCase(), inTime: metrics.ms < CHECK_TIMEOUT_MS + SLACK_MS }).toEqual({ status: 200, lag: 'nan', inTime: true });
  });

  it('recovers without a restart: a key created after the stall works on its next request (the relay resumed)', async () => {
    expect({ created: afterStall?.created.status, used: afterStall?.used.status }).toEqual({ created: 201, used: 200 });
    expect((await probe(`${keys.url}/readyz`)).status).toBe(200);
  });

  // The commands reached keys and waited on Postgres; the gateway stopped waiting. Each was sent
  // with the gateway's wait (Keyplane-Reply-Within-Ms), and keys commits nothing past it: when
  // the stall ends they are rolled back, not carried out unseen (docs/api.md, 503).
  it('a create the gateway gave up on is not made when the stall ends: keys rolled it back, past the wait the gateway sent', async () => {
    const list = await call('GET', '/v1/api-keys?limit=1000');
    const late = (list.body.data as { id: string; name: string }[]).filter((k) => k.name === 'created-during-stall');
    expect(late).toEqual([]);
  });

  it('a revoke the gateway gave up on is not made either: nothing stored or published, and the key still works', async () => {
    const key = await call('GET', `/v1/api-keys/${toRevoke.id}`);
    expect({
      used: (await call('GET', '/v1/flows', toRevoke.key)).status,
      status: key.body.status,
      audit: await auditTypes(toRevoke.id),
      published: (await keyEventsOnStream(toRevoke.id)) - before[toRevoke.id]!,
    }).toEqual({ used: 200, status: 'active', audit: ['KeyIssued'], published: 0 });
  });

  it('a rotate whose read of the key timed out changed nothing: the secret still works', async () => {
    expect({
      used: (await call('GET', '/v1/flows', toRotate.key)).status,
      audit: await auditTypes(toRotate.id),
      published: (await keyEventsOnStream(toRotate.id)) - before[toRotate.id]!,
    }).toEqual({ used: 200, audit: ['KeyIssued'], published: 0 });
  });

  it("auth's key view has applied the whole key event stream", async () => {
    const { state } = await jsm.streams.info(stack.ns.streams.keyEvents);
    await waitFor('auth caught up', async () => (await metric(auth.url, 'auth_key_view_sequence')) === state.last_seq, 5000, 50);
  });
});

// What the wait sent with a command cannot undo: a COMMIT that Postgres carried out while keys,
// stalled, never heard of it. The change is made and published once the stall ends.
describe("keys' Postgres stalled after a rotate committed, before keys heard the COMMIT", () => {
  let victim: { key: string; id: string };
  let rotate: TimedAnswer;
  let stallBegan = false;
  let oldSecretDuring: TimedAnswer;
  let publishedBefore = 0;
  let lastFour = '';

  beforeAll(async () => {
    victim = await createKey('stall-after-commit');
    expect((await call('GET', '/v1/flows', victim.key)).status).toBe(200);
    publishedBefore = await keyEventsOnStream(victim.id);
    lastFour = (await call('GET', `/v1/api-keys/${victim.id}`)).body.last4;
    // The rotate's insert goes up on one connection; the stall starts with the answer to its COMMIT.
    let rotating = false;
    void pgKeys
      .stallWhen((chunk, direction) => {
        if (direction === 'to-server' && chunk.includes('KeySecretRotated')) rotating = true;
        return rotating && direction === 'to-client' && chunk.includes('COMMIT\0');
      })
      .then(() => (stallBegan = true));
    try {
      rotate = await call('POST', `/v1/api-keys/${victim.id}/rotate`, adminKey, { gracePeriodSeconds: 0 });
      oldSecretDuring = await call('GET', '/v1/flows', victim.key);
    } finally {
      pgKeys.release();
    }
  }, 30_000);

  it('the caller gets 503 Keys service unavailable within KEYS_TIMEOUT_MS, and no secret', () => {
    expect({ stallBegan, status: rotate.status, body: rotate.body, inTime: rotate.ms < KEYS_TIMEOUT_MS + SLACK_MS }).toEqual({
      stallBegan: true,
      status: 503,
      body: UNAVAILABLE.keys,
      inTime: true,
    });
  });

  it('until the stall ends the old secret keeps working (nothing was published)', () => {
    expect(oldSecretDuring.status).toBe(200);
  });

  it('once it ends the rotation is published exactly once and auth applies it: the old secret is rotated out', async () => {
    const refused = await refusedWith(victim.key, 'Invalid or missing API key');
    const key = await call('GET', `/v1/api-keys/${victim.id}`);
    expect({
      refused: refused.body,
      audit: await auditTypes(victim.id),
      published: (await keyEventsOnStream(victim.id)) - publishedBefore,
      secretChanged: key.body.last4 !== lastFour,
    }).toEqual({
      refused: { error: 'Unauthorized', details: 'Invalid or missing API key' },
      audit: ['KeyIssued', 'KeySecretRotated'],
      published: 1,
      secretChanged: true,
    });
  });

  it('rotating again (as docs/api.md tells a caller who got 503) hands out a secret that works', async () => {
    const again = await call('POST', `/v1/api-keys/${victim.id}/rotate`, adminKey, { gracePeriodSeconds: 0 });
    expect(again.status).toBe(200);
    expect((await call('GET', '/v1/flows', again.body.key)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------

describe("metering's Postgres stalled past the ack wait while traffic flows", () => {
  let key: { key: string; id: string };
  const answers: TimedAnswer[] = [];
  let queries: TimedAnswer[] = [];
  let ready: Awaited<ReturnType<typeof probe>>;
  let health: Awaited<ReturnType<typeof probe>>;
  let redelivered = 0;
  let duplicatesBefore = 0;

  const consumerState = async () => {
    const info = await jsm.consumers.info(stack.ns.streams.usageEvents, 'metering');
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  };

  beforeAll(async () => {
    key = await createKey('metering-stall', ['FLOWS:READ'], { hour: 10_000, day: 100_000 });
    answers.push(...(await burst(10, key.key)));
    await waitFor('metering counted the first requests', async () => (await currentHourUsage(key.id))?.requests === 10, 10_000, 100);
    duplicatesBefore = await metric(metering.url, 'metering_events_ingested_total{result="duplicate"');
    pgMetering.stall();
    try {
      answers.push(...(await burst(20, key.key)));
      // The batch holding these is stuck in its transaction; wait until JetStream has given up on it and delivered it again.
      await waitFor('JetStream to redeliver the stalled batch', async () => (await consumerState()).redelivered > 0, 4 * ACK_WAIT_MS, 100);
      answers.push(...(await burst(20, key.key)));
      queries = await Promise.all([
        call('GET', `/v1/api-keys/${key.id}/usage`),
        call('GET', `/v1/api-keys/${key.id}/events`),
        call('GET', '/v1/alerts'),
      ]);
      [ready, health] = await Promise.all([probe(`${metering.url}/readyz`), probe(`${metering.url}/healthz`)]);
      redelivered = (await consumerState()).redelivered;
    } finally {
      pgMetering.release();
    }
    answers.push(...(await burst(10, key.key)));
  }, 60_000);

  it('requests through the gateway are unaffected: auth does not wait on metering', () => {
    expect(answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${JSON.stringify(a.body)}`)).toEqual([]);
  });

  it('usage, events and alerts answer 503 Metering service unavailable as JSON within METERING_TIMEOUT_MS', () => {
    expect(queries.map((a) => ({ status: a.status, type: a.type, body: a.body, inTime: a.ms < METERING_TIMEOUT_MS + SLACK_MS }))).toEqual(
      queries.map(() => ({ status: 503, type: 'application/json', body: UNAVAILABLE.metering, inTime: true })),
    );
  });

  it('metering stays alive and /readyz answers 503 naming postgres, within the check timeout', () => {
    expect({ health: health.status, ready: ready.status, body: ready.body, inTime: ready.ms < CHECK_TIMEOUT_MS + SLACK_MS }).toEqual({
      health: 200,
      ready: 503,
      body: { status: 'not ready', checks: { nats: true, postgres: false, 'usage-consumer': true } },
      inTime: true,
    });
  });

  it('after the stall every decision is counted exactly once, equal to auth\'s counter, though JetStream redelivered the stalled batch', async () => {
    await waitFor('the consumer to settle', async () => {
      const state = await consumerState();
      return state.pending === 0 && state.ackPending === 0;
    }, 20_000, 100);
    const usage = await currentHourUsage(key.id);
    // Auth gives back unspent leased units after QUOTA_LEASE_IDLE_MS (1 s) of quiet.
    const used = await waitFor("auth's counter to settle", async () => ((await authUsed(key.id)) === answers.length ? answers.length : undefined), 5000, 100).catch(() => authUsed(key.id));
    expect({
      redelivered: redelivered > 0,
      duplicatesSeen: (await metric(metering.url, 'metering_events_ingested_total{result="duplicate"')) > duplicatesBefore,
      requests: usage?.requests,
      allowed: usage?.allowed,
      storedEvents: await storedEvents(key.id),
      authUsed: used,
    }).toEqual({
      redelivered: true,
      duplicatesSeen: true,
      requests: answers.length,
      allowed: answers.length,
      storedEvents: answers.length,
      authUsed: answers.length,
    });
  });

  it('metering is ready again without a restart', async () => {
    await waitFor('metering ready', async () => (await probe(`${metering.url}/readyz`)).status === 200, 10_000, 200);
  });
});

// ---------------------------------------------------------------------------------------------

describe('afterwards', () => {
  it('every service is alive and ready, and nothing left an unhandled rejection', async () => {
    for (const [name, url] of [['keys', keys.url], ['auth', auth.url], ['metering', metering.url], ['gateway', gateway.metricsUrl]] as const) {
      await waitFor(`${name} ready`, async () => (await fetch(`${url}/readyz`)).status === 200, 15_000, 200).catch(() => undefined);
      expect({ name, healthz: (await fetch(`${url}/healthz`)).status, readyz: (await fetch(`${url}/readyz`)).status }).toEqual({ name, healthz: 200, readyz: 200 });
    }
    expect(unhandled.map(String)).toEqual([]);
    expect(await metric(gateway.metricsUrl, 'gateway_service_requests_waiting')).toBe(0);
  });
});
