import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { ServiceHandle } from '@keyplane/runtime';
import { generateKey } from '@keyplane/key-format';
import { connectNats } from '@keyplane/nats';
import { CapturedLogs, TEST_NATS_URL, waitFor } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { awayFromHourEnd, hourEndWaitMs, sleep, startStack, type Stack } from './stack.js';
import { outageClient, UNAVAILABLE, type TimedAnswer } from './outage-client.js';
import { SHARED_NATS, SHARED_POSTGRES, TcpProxy, withPort } from './tcp-proxy.js';

// Degraded dependencies, as a client sees them (DESIGN §2, §5, §6; docs/api.md; auth and
// gateway READMEs): Postgres away for auth, NATS away for auth or for the gateway, keys or
// metering slow, and NDJSON streams whose metering dies or whose client leaves. Each service
// reaches its dependency through a forwarder of its own that the test can cut, restore or slow.

const AUTH_TIMEOUT_MS = 1000;
const KEYS_TIMEOUT_MS = 1500;
const METERING_TIMEOUT_MS = 1000;
const SLACK_MS = 700;

let stack: Stack;
const logs = new CapturedLogs();
const adminKey = generateKey({ environment: 'live' }).key;
let pgAuth: TcpProxy;
let natsAuth: TcpProxy;
let natsGateway: TcpProxy;
let natsKeys: TcpProxy;
let natsMetering: TcpProxy;
let keys: ServiceHandle;
let auth: ServiceHandle;
let metering: ServiceHandle;
let gateway: GatewayHandle;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const { call, createKey, burst, currentHourUsage, authUsed, metric } = outageClient({ gatewayUrl: () => gateway.url, databaseUrl: () => stack.databaseUrl, adminKey });

/** Decisions auth made (every outcome but the quota store failing and bad messages). */
const decisionsMade = () => metric(auth.url, 'auth_decisions_total{', (line) => !line.includes('outcome="error"') && !line.includes('outcome="bad_request"'));

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  const pgPort = Number(SHARED_POSTGRES.port || 5432);
  const natsPort = Number(SHARED_NATS.port || 4222);
  pgAuth = await TcpProxy.start(SHARED_POSTGRES.hostname, pgPort);
  natsAuth = await TcpProxy.start(SHARED_NATS.hostname, natsPort);
  natsGateway = await TcpProxy.start(SHARED_NATS.hostname, natsPort);
  natsKeys = await TcpProxy.start(SHARED_NATS.hostname, natsPort);
  natsMetering = await TcpProxy.start(SHARED_NATS.hostname, natsPort);
  const natsForwarders = { keys: natsKeys, auth: natsAuth, metering: natsMetering, gateway: natsGateway };
  stack = await startStack('e2e_degraded', {
    adminKey,
    logs,
    authReplicas: 1,
    nats: { urlFor: (user) => `nats://127.0.0.1:${natsForwarders[user].port}` },
    databaseUrlFor: (service, url) => (service === 'auth' ? withPort(url, pgAuth.port) : url),
    metering: {},
    gatewayEnv: { AUTH_TIMEOUT_MS: String(AUTH_TIMEOUT_MS), KEYS_TIMEOUT_MS: String(KEYS_TIMEOUT_MS), METERING_TIMEOUT_MS: String(METERING_TIMEOUT_MS) },
  });
  ({ keys, gateway } = stack);
  [auth] = stack.auth;
  metering = stack.metering()!;
  await awayFromHourEnd(90);
}, 60_000 + hourEndWaitMs(90));

afterAll(async () => {
  for (const proxy of [pgAuth, natsAuth, natsGateway, natsKeys, natsMetering]) {
    if (!proxy) continue;
    proxy.delayMs = 0;
    proxy.release();
    await proxy.open().catch(() => undefined);
  }
  await stack?.close().catch(() => undefined);
  for (const proxy of [pgAuth, natsAuth, natsGateway, natsKeys, natsMetering]) await proxy?.cut();
  process.off('unhandledRejection', onUnhandled);
}, 60_000);

// ---------------------------------------------------------------------------------------------

describe('Postgres away for auth (DESIGN §5 exact, §6 fail closed)', () => {
  const HOT_LIMIT = 300;
  const COLD_LIMIT = 5;
  let hot: { key: string; id: string };
  let cold: { key: string; id: string };
  const hotAnswers: TimedAnswer[] = [];
  const coldAnswers: TimedAnswer[] = [];
  const outage503: TimedAnswer[] = [];
  let recoveredInMs = -1;

  beforeAll(async () => {
    hot = await createKey('hot', ['FLOWS:READ'], { hour: HOT_LIMIT, day: 10_000 });
    cold = await createKey('cold', ['FLOWS:READ'], { hour: COLD_LIMIT, day: 10_000 });
    coldAnswers.push(...(await burst(2, cold.key)));
    // Warm the hot key until auth leases quota for it (16+ requests in quick succession).
    for (let i = 0; i < 5; i++) hotAnswers.push(...(await burst(10, hot.key)));
    const leased = await metric(auth.url, 'auth_quota_leased_units_total');

    await pgAuth.cut();
    try {
      const during = await Promise.all([burst(30, hot.key), burst(10, cold.key)]);
      hotAnswers.push(...during[0]);
      coldAnswers.push(...during[1]);
      // Stay away past QUOTA_LEASE_IDLE_MS, so a release of unspent lease is attempted while Postgres is gone.
      await sleep(1500);
      const later = await Promise.all([burst(5, hot.key), burst(5, cold.key)]);
      hotAnswers.push(...later[0]);
      coldAnswers.push(...later[1]);
      for (const a of [...during.flat(), ...later.flat()]) if (a.status !== 200) outage503.push(a);
      expect(leased).toBeGreaterThan(0);
    } finally {
      await pgAuth.open();
    }
    const reopened = Date.now();
    // Auth must recover by itself: poll the cold key (each answer is recorded, since it counts).
    for (;;) {
      const answer = await call('GET', '/v1/flows', cold.key);
      coldAnswers.push(answer);
      if (answer.status !== 503) {
        recoveredInMs = Date.now() - reopened;
        break;
      }
      if (Date.now() - reopened > 15_000) break;
      await sleep(200);
    }
    // Continued demand after recovery: bursts until the hot key's hour is used up.
    for (let i = 0; i < 10; i++) {
      const answers = await burst(40, hot.key);
      hotAnswers.push(...answers);
      if (answers.every((a) => a.status === 429)) break;
    }
    // Let auth give back what it leased and did not spend (QUOTA_LEASE_IDLE_MS), then demand more.
    await sleep(1500);
    hotAnswers.push(...(await burst(40, hot.key)));
    await sleep(1500);
    hotAnswers.push(...(await burst(40, hot.key)));
    coldAnswers.push(...(await burst(10, cold.key)));
  }, 90_000);

  it('answers every request it cannot decide with the exact §6 503 body, as application/json', () => {
    expect(outage503.length).toBeGreaterThan(0);
    const shapes = new Set(outage503.map((a) => JSON.stringify({ status: a.status, type: a.type, body: a.body })));
    expect([...shapes]).toEqual([JSON.stringify({ status: 503, type: 'application/json', body: UNAVAILABLE.auth })]);
    expect(outage503.filter((a) => a.ms >= AUTH_TIMEOUT_MS + SLACK_MS).map((a) => a.ms)).toEqual([]);
  });

  it('a cold key gets nothing but 503 while Postgres is away', () => {
    const duringOutage = coldAnswers.slice(2, 17);
    expect(duringOutage.map((a) => a.status)).toEqual(Array(15).fill(503));
  });

  it('recovers by itself once Postgres is back (within 10 s)', () => {
    expect(recoveredInMs).toBeGreaterThanOrEqual(0);
    expect(recoveredInMs).toBeLessThan(10_000);
  });

  it('never admits more than the limit across the outage: cold key exactly 5, hot key at most 300', () => {
    const coldAllowed = coldAnswers.filter((a) => a.status === 200).length;
    const hotAllowed = hotAnswers.filter((a) => a.status === 200).length;
    expect({ coldAllowed, hotAllowedAtMostLimit: hotAllowed <= HOT_LIMIT }).toEqual({ coldAllowed: COLD_LIMIT, hotAllowedAtMostLimit: true });
    const unexpected = [...hotAnswers, ...coldAnswers].filter((a) => ![200, 429, 503].includes(a.status)).map((a) => a.status);
    expect(unexpected).toEqual([]);
  });

  it('with continued demand after recovery the hot key admits exactly its limit (leased units go back; only a crash strands them)', () => {
    const hotAllowed = hotAnswers.filter((a) => a.status === 200).length;
    expect({ hotAllowed, counted: 'see next test' }).toEqual({ hotAllowed: HOT_LIMIT, counted: 'see next test' });
  });

  it('metering reconciles after recovery: every decision (including those served from a lease during the outage) counted once, and equal to auth\'s counter', async () => {
    const seen = {
      allowed: hotAnswers.filter((a) => a.status === 200).length,
      rateLimited: hotAnswers.filter((a) => a.status === 429).length,
    };
    const usage = await waitFor(
      'metering to ingest the hot key',
      async () => {
        const u = await currentHourUsage(hot.id);
        return u && u.requests >= seen.allowed + seen.rateLimited ? u : undefined;
      },
      10_000,
      200,
    ).catch(async () => currentHourUsage(hot.id));
    await sleep(500);
    const final = (await currentHourUsage(hot.id)) ?? usage;
    const used = await authUsed(hot.id);
    expect({ allowed: final?.allowed, rateLimited: final?.rateLimited, requests: final?.requests, authUsed: used }).toEqual({
      allowed: seen.allowed,
      rateLimited: seen.rateLimited,
      requests: seen.allowed + seen.rateLimited,
      authUsed: seen.allowed,
    });
  });
});

describe('Postgres stalled for auth (a partition: connections open, nothing moves)', () => {
  const LIMIT = 5;
  let key: { key: string; id: string };
  let warm: { key: string; id: string };
  const keyAnswers: TimedAnswer[] = [];
  const warmAnswers: TimedAnswer[] = [];
  let stalled: TimedAnswer[] = [];
  let recoveredInMs = -1;

  beforeAll(async () => {
    key = await createKey('stall-cold', ['FLOWS:READ'], { hour: LIMIT, day: 10_000 });
    warm = await createKey('stall-warm', ['FLOWS:READ'], { hour: 1000, day: 10_000 });
    keyAnswers.push(await call('GET', '/v1/flows', key.key));
    for (let i = 0; i < 4; i++) warmAnswers.push(...(await burst(10, warm.key)));
    pgAuth.stall();
    try {
      const [a, b] = await Promise.all([burst(10, key.key), burst(10, warm.key)]);
      keyAnswers.push(...a);
      warmAnswers.push(...b);
      stalled = [...a, ...b.filter((x) => x.status !== 200)];
      await sleep(1000);
    } finally {
      pgAuth.release();
    }
    const released = Date.now();
    for (;;) {
      const answer = await call('GET', '/v1/flows', warm.key);
      warmAnswers.push(answer);
      if (answer.status === 200) {
        recoveredInMs = Date.now() - released;
        break;
      }
      if (Date.now() - released > 15_000) break;
      await sleep(200);
    }
    keyAnswers.push(...(await burst(10, key.key)));
  }, 60_000);

  it('answers 503 Authorization service unavailable within AUTH_TIMEOUT_MS while the store hangs', () => {
    expect(stalled.length).toBeGreaterThan(0);
    expect(stalled.map((a) => ({ status: a.status, body: a.body, prompt: a.ms < AUTH_TIMEOUT_MS + SLACK_MS }))).toEqual(
      stalled.map(() => ({ status: 503, body: UNAVAILABLE.auth, prompt: true })),
    );
  });

  it('recovers by itself once the partition heals', () => {
    expect(recoveredInMs).toBeGreaterThanOrEqual(0);
    expect(recoveredInMs).toBeLessThan(10_000);
  });

  it('never admits more than the limit; late decisions count (errs toward counting) and metering agrees with auth', async () => {
    const allowed = keyAnswers.filter((a) => a.status === 200).length;
    expect(allowed).toBeLessThanOrEqual(LIMIT);
    await sleep(1500);
    const used = await authUsed(key.id);
    const usage = await waitFor('metering caught up', async () => {
      const u = await currentHourUsage(key.id);
      return u && u.allowed + u.forbidden === used ? u : undefined;
    }, 10_000, 200).catch(() => currentHourUsage(key.id));
    expect({ used: used <= LIMIT, counted: (usage?.allowed ?? 0) + (usage?.forbidden ?? 0) }).toEqual({ used: true, counted: used });
    expect(await metric(gateway.metricsUrl, 'gateway_service_requests_waiting')).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('NATS away for metering while traffic flows', () => {
  it('metering counts every decision made during its outage exactly once, after it reconnects', async () => {
    const { key, id } = await createKey('metering-away', ['FLOWS:READ']);
    await natsMetering.cut();
    let answers: TimedAnswer[];
    try {
      answers = [...(await burst(20, key)), ...(await burst(20, key))];
    } finally {
      await natsMetering.open();
    }
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const usage = await waitFor('metering caught up', async () => {
      const u = await currentHourUsage(id);
      return u && u.requests >= 40 ? u : undefined;
    }, 20_000, 200).catch(() => currentHourUsage(id));
    await sleep(1000);
    const final = (await currentHourUsage(id)) ?? usage;
    expect({ requests: final?.requests, allowed: final?.allowed }).toEqual({ requests: 40, allowed: 40 });
  }, 40_000);
});

// ---------------------------------------------------------------------------------------------

describe('NATS away for auth only', () => {
  let natsKey: { key: string; id: string };
  const answers: TimedAnswer[] = [];
  const outage: TimedAnswer[] = [];
  let recoveredInMs = -1;
  let decisions = 0;

  beforeAll(async () => {
    natsKey = await createKey('nats-auth', ['FLOWS:READ']);
    await call('GET', '/v1/flows', natsKey.key).then((a) => answers.push(a));
    const before = await decisionsMade();
    // Cut while a burst is in flight, so some usage events are still queued in auth.
    const inFlight = burst(200, natsKey.key);
    await waitFor('auth deciding the burst', async () => (await decisionsMade()) - before >= 20, 5_000, 1);
    await natsAuth.cut();
    try {
      answers.push(...(await inFlight));
      await sleep(300);
      for (let i = 0; i < 3; i++) outage.push(await call('GET', '/v1/flows', natsKey.key));
    } finally {
      await natsAuth.open();
    }
    const reopened = Date.now();
    for (;;) {
      const answer = await call('GET', '/v1/flows', natsKey.key);
      answers.push(answer);
      if (answer.status === 200) {
        recoveredInMs = Date.now() - reopened;
        break;
      }
      if (Date.now() - reopened > 20_000) break;
      await sleep(200);
    }
    answers.push(...(await burst(10, natsKey.key)));
    decisions = (await decisionsMade()) - before + 1;
  }, 60_000);

  it('answers 503 Authorization service unavailable within AUTH_TIMEOUT_MS', () => {
    expect(outage.map((a) => ({ status: a.status, body: a.body, type: a.type, prompt: a.ms < AUTH_TIMEOUT_MS + SLACK_MS }))).toEqual(
      outage.map(() => ({ status: 503, body: UNAVAILABLE.auth, type: 'application/json', prompt: true })),
    );
  });

  it('recovers by itself once NATS is back (within 15 s)', () => {
    expect(recoveredInMs).toBeGreaterThanOrEqual(0);
    expect(recoveredInMs).toBeLessThan(15_000);
  });

  it('publishes the usage events queued during the outage: metering counts every decision once, matching auth\'s quota', async () => {
    await waitFor('auth usage queue drained', async () => (await metric(auth.url, 'auth_usage_events_pending')) === 0, 15_000, 100);
    const usage = await waitFor(
      'metering counts every decision',
      async () => {
        const u = await currentHourUsage(natsKey.id);
        return u && u.requests >= decisions ? u : undefined;
      },
      15_000,
      200,
    ).catch(async () => currentHourUsage(natsKey.id));
    await sleep(500);
    const final = (await currentHourUsage(natsKey.id)) ?? usage;
    const counted = (final?.allowed ?? 0) + (final?.forbidden ?? 0);
    // Auth gives back unspent leased units after QUOTA_LEASE_IDLE_MS (1 s) of quiet.
    const used = await waitFor('auth to give back unspent lease', async () => {
      const u = await authUsed(natsKey.id);
      return u === counted ? u : undefined;
    }, 5_000, 100).catch(() => authUsed(natsKey.id));
    expect({ requests: final?.requests, counted: (final?.allowed ?? 0) + (final?.forbidden ?? 0) }).toEqual({ requests: decisions, counted: used });
    // Every 200 the client saw is in metering.
    expect((final?.allowed ?? 0) >= answers.filter((a) => a.status === 200).length).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('NATS away for the gateway only', () => {
  it('answers 503 Authorization service unavailable promptly, then recovers by itself', async () => {
    const { key } = await createKey('nats-gw', ['FLOWS:READ']);
    expect((await call('GET', '/v1/flows', key)).status).toBe(200);
    await natsGateway.cut();
    const outage: TimedAnswer[] = [];
    try {
      await sleep(200);
      outage.push(...(await burst(3, key)));
      outage.push(await call('GET', '/v1/flows', key));
    } finally {
      await natsGateway.open();
    }
    expect(outage.map((a) => ({ status: a.status, body: a.body, type: a.type, prompt: a.ms < AUTH_TIMEOUT_MS + SLACK_MS }))).toEqual(
      outage.map(() => ({ status: 503, body: UNAVAILABLE.auth, type: 'application/json', prompt: true })),
    );
    const reopened = Date.now();
    await waitFor('gateway serving again', async () => (await call('GET', '/v1/flows', key)).status === 200, 15_000, 200);
    expect(Date.now() - reopened).toBeLessThan(15_000);
    expect((await fetch(`${gateway.metricsUrl}/readyz`)).status).toBe(200);
  }, 40_000);
});

// ---------------------------------------------------------------------------------------------

describe('keys slow', () => {
  it('management calls answer 503 Keys service unavailable within KEYS_TIMEOUT_MS, API traffic unaffected, then recover', async () => {
    const { key } = await createKey('keys-slow', ['FLOWS:READ']);
    natsKeys.delayMs = 3000;
    let answers: TimedAnswer[];
    let flows: TimedAnswer;
    try {
      answers = await Promise.all([call('GET', '/v1/api-keys'), call('GET', `/v1/api-keys/nope_not_an_id`), call('POST', '/v1/api-keys', adminKey, { name: 'slow', permissions: ['FLOWS:READ'] })]);
      flows = await call('GET', '/v1/flows', key);
    } finally {
      natsKeys.delayMs = 0;
    }
    const list = answers[0]!;
    const post = answers[2]!;
    expect([list, post].map((a) => ({ status: a.status, body: a.body, type: a.type, inTime: a.ms < KEYS_TIMEOUT_MS + SLACK_MS }))).toEqual(
      [list, post].map(() => ({ status: 503, body: UNAVAILABLE.keys, type: 'application/json', inTime: true })),
    );
    expect(flows.status).toBe(200);
    await waitFor('keys answering again', async () => (await call('GET', '/v1/api-keys')).status === 200, 10_000, 200);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------

describe('metering slow', () => {
  it('key objects come back with lastUsedAt null within the timeouts; usage, events and alerts are 503 Metering service unavailable', async () => {
    const used = await createKey('metering-slow', ['FLOWS:READ']);
    expect((await call('GET', '/v1/flows', used.key)).status).toBe(200);
    await waitFor('lastUsedAt known', async () => (await call('GET', `/v1/api-keys/${used.id}`)).body.lastUsedAt !== null, 10_000, 200);
    natsMetering.delayMs = 2500;
    let get: TimedAnswer, list: TimedAnswer, usage: TimedAnswer, events: TimedAnswer, alerts: TimedAnswer, patched: TimedAnswer;
    try {
      [get, list, usage, events, alerts, patched] = await Promise.all([
        call('GET', `/v1/api-keys/${used.id}`),
        call('GET', '/v1/api-keys'),
        call('GET', `/v1/api-keys/${used.id}/usage`),
        call('GET', `/v1/api-keys/${used.id}/events`),
        call('GET', '/v1/alerts'),
        call('PATCH', `/v1/api-keys/${used.id}`, adminKey, { name: 'renamed while metering is slow' }),
      ]);
    } finally {
      natsMetering.delayMs = 0;
    }
    expect({ status: get.status, lastUsedAt: get.body.lastUsedAt, inTime: get.ms < KEYS_TIMEOUT_MS + METERING_TIMEOUT_MS + SLACK_MS }).toEqual({ status: 200, lastUsedAt: null, inTime: true });
    expect({ status: patched.status, lastUsedAt: patched.body.lastUsedAt, name: patched.body.name }).toEqual({ status: 200, lastUsedAt: null, name: 'renamed while metering is slow' });
    expect({ status: list.status, nonNull: list.body.data.filter((k: { lastUsedAt: string | null }) => k.lastUsedAt !== null).length }).toEqual({ status: 200, nonNull: 0 });
    expect([usage, events, alerts].map((a) => ({ status: a.status, body: a.body, type: a.type, inTime: a.ms < KEYS_TIMEOUT_MS + METERING_TIMEOUT_MS + SLACK_MS }))).toEqual(
      [usage, events, alerts].map(() => ({ status: 503, body: UNAVAILABLE.metering, type: 'application/json', inTime: true })),
    );
    // And back: lastUsedAt is known again once metering answers in time.
    await waitFor('lastUsedAt back', async () => (await call('GET', `/v1/api-keys/${used.id}`)).body.lastUsedAt !== null, 10_000, 200);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------

interface Streamed {
  lines: string[];
  outcome: 'complete' | 'cut';
  ms: number;
  status: number;
}

/** GET an NDJSON stream with node:http; `onFirstLine` runs once the first event line arrives; `abortAfterFirst` leaves then. */
function streamEvents(path: string, onFirstLine: () => void | Promise<void>, abortAfterFirst = false): Promise<Streamed> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let buffer = '';
    const lines: string[] = [];
    let first = true;
    let settled = false;
    const settle = (response: IncomingMessage | undefined, outcome: Streamed['outcome']) => {
      if (settled) return;
      settled = true;
      resolve({ lines, outcome, ms: Date.now() - started, status: response?.statusCode ?? 0 });
    };
    const req = httpRequest(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${adminKey}`, accept: 'application/x-ndjson' } }, (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        lines.push(...parts.filter(Boolean));
        if (first && lines.length > 0) {
          first = false;
          void Promise.resolve(onFirstLine()).then(() => {
            if (abortAfterFirst) {
              req.destroy();
              settle(response, 'cut');
            }
          });
        }
      });
      response.on('end', () => settle(response, response.complete ? 'complete' : 'cut'));
      response.on('aborted', () => settle(response, 'cut'));
      response.on('error', () => settle(response, 'cut'));
      response.on('close', () => settle(response, response.complete ? 'complete' : 'cut'));
    });
    req.on('error', (error) => (settled ? undefined : reject(error)));
    req.setTimeout(20_000, () => req.destroy(new Error('stream hung')));
    req.end();
  });
}

describe('NDJSON usage event streams', () => {
  let streamKey: { key: string; id: string };
  const EVENTS = 30;

  beforeAll(async () => {
    streamKey = await createKey('stream', ['FLOWS:READ']);
    for (let i = 0; i < EVENTS / 10; i++) await burst(10, streamKey.key);
    await waitFor('metering has every event', async () => (await currentHourUsage(streamKey.id))?.requests === EVENTS, 15_000, 200);
  }, 30_000);

  it('(control) streams every event, page by page', async () => {
    const all = await streamEvents(`/v1/api-keys/${streamKey.id}/events?limit=5`, () => undefined);
    expect({ status: all.status, outcome: all.outcome, lines: all.lines.length }).toEqual({ status: 200, outcome: 'complete', lines: EVENTS });
  });

  it('metering dying mid-stream ends the stream short (not complete), without hanging, and logs it', async () => {
    natsMetering.delayMs = 200;
    let streamed: Streamed;
    try {
      streamed = await streamEvents(`/v1/api-keys/${streamKey.id}/events?limit=1`, async () => {
        await natsMetering.cut();
      });
    } finally {
      natsMetering.delayMs = 0;
      await natsMetering.open();
    }
    expect({ status: streamed.status, outcome: streamed.outcome, short: streamed.lines.length < EVENTS, quick: streamed.ms < 8000 }).toEqual({
      status: 200,
      outcome: 'cut',
      short: true,
      quick: true,
    });
    for (const line of streamed.lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(logs.text()).toContain('usage event stream cut short');
    await waitFor('metering answering again', async () => (await call('GET', `/v1/api-keys/${streamKey.id}/usage`)).status === 200, 20_000, 200);
  }, 40_000);

  it('a client leaving mid-stream stops the gateway asking metering for pages', async () => {
    const spy = await connectNats({ url: TEST_NATS_URL, name: 'degraded-spy' });
    let asked = 0;
    const sub = spy.subscribe(stack.ns.subjects.metering.events, { callback: () => void asked++ });
    await spy.flush();
    natsMetering.delayMs = 150;
    let atLeave = 0;
    try {
      const streamed = await streamEvents(
        `/v1/api-keys/${streamKey.id}/events?limit=1`,
        () => {
          atLeave = asked;
        },
        true,
      );
      expect(streamed.outcome).toBe('cut');
      await sleep(2500);
    } finally {
      natsMetering.delayMs = 0;
      sub.unsubscribe();
      await spy.close();
    }
    expect({ askedAfterLeaving: asked - atLeave <= 2, asked: asked < EVENTS }).toEqual({ askedAfterLeaving: true, asked: true });
    const waiting = await metric(gateway.metricsUrl, 'gateway_service_requests_waiting');
    expect(waiting).toBe(0);
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------

describe('afterwards', () => {
  it('every service is alive and ready, and nothing crashed or left an unhandled rejection', async () => {
    for (const [name, url] of [['keys', keys.url], ['auth', auth.url], ['metering', metering.url], ['gateway', gateway.metricsUrl]] as const) {
      await waitFor(`${name} ready`, async () => (await fetch(`${url}/readyz`)).status === 200, 15_000, 200).catch(() => undefined);
      expect({ name, healthz: (await fetch(`${url}/healthz`)).status, readyz: (await fetch(`${url}/readyz`)).status }).toEqual({ name, healthz: 200, readyz: 200 });
    }
    expect(unhandled.map(String)).toEqual([]);
    const suspicious = logs.lines.filter((line) => /unhandled|uncaught/i.test(line));
    expect(suspicious.slice(0, 5)).toEqual([]);
    // Still serving end to end.
    const { key } = await createKey('afterwards', ['FLOWS:READ']);
    expect((await call('GET', '/v1/flows', key)).status).toBe(200);
  }, 40_000);
});
