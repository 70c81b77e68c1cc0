import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import { CapturedLogs, freshNamespace, TEST_NATS_URL } from '@keyplane/testing';
import { generateKey } from '@keyplane/key-format';
import { fail, notFound, ok, serviceError, type KeyObject, type Reply } from '@keyplane/contracts';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { loadGatewayConfig } from '../src/config.js';
import { startGatewayService, type GatewayHandle } from '../src/start.js';

// The gateway's metering wiring against stand-ins for auth, keys and metering on NATS: what
// it asks metering, how it pages a stream, and how it degrades when metering is slow or
// gone. The real services together are tested in apps/e2e.

const { ns } = freshNamespace();
const logs = new CapturedLogs();
const METERING_TIMEOUT_MS = 300;
const ACCOUNT = 'acc_metered';
const OWN_KEY = 'key_01JABCDEFGHJKMNPQRSTVWXYZ0';
const FOREIGN_KEY = 'key_01JABCDEFGHJKMNPQRSTVWXYZ9';
const secret = generateKey({ environment: 'live' }).key;

let gateway: GatewayHandle;
let nc: NatsConnection;
/** What metering was asked, by query; `answer` decides what the stand-in replies (undefined: silence). */
const asked: Record<string, unknown[]> = {};
let answer: (query: string, data: Record<string, unknown>) => Reply<unknown> | undefined;

const keyObject = (id: string): KeyObject => ({
  id,
  accountId: ACCOUNT,
  name: 'metered',
  environment: 'live',
  prefix: secret.slice(0, 12),
  last4: secret.slice(-4),
  permissions: ['*'],
  rateLimits: { hour: 1000, day: 10000 },
  status: 'active',
  createdAt: '2026-11-26T10:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
});

const window = { limit: 1000, used: 1, remaining: 999, resetAt: 1_900_000_000 };
const allowed = ok({
  outcome: 'allowed',
  reason: 'ok',
  key: { keyId: OWN_KEY, accountId: ACCOUNT, environment: 'live', permissions: ['*'] },
  limits: { hour: window, day: window },
});

function respond(subject: string, handle: (data: Record<string, unknown>) => Reply<unknown> | undefined) {
  nc.subscribe(subject, {
    callback: (_error, msg: Msg) => {
      const { id, data } = decodeJson(msg.data) as { id: string; data: Record<string, unknown> };
      const response = handle(data);
      if (response !== undefined) msg.respond(encodeJson({ id, response, isDisposed: true }));
    },
  });
}

beforeAll(async () => {
  nc = await connectNats({ url: TEST_NATS_URL, name: 'gateway-metering-test' });
  respond(ns.subjects.auth.decide, () => allowed);
  respond(ns.subjects.keys.get, ({ keyId }) => (keyId === OWN_KEY ? ok(keyObject(OWN_KEY)) : fail(notFound(`API key ${String(keyId)} not found`))));
  respond(ns.subjects.keys.list, () => ok({ data: [keyObject(OWN_KEY), keyObject(FOREIGN_KEY)], nextCursor: null }));
  for (const [query, subject] of Object.entries(ns.subjects.metering)) {
    respond(subject, (data) => {
      (asked[query] ??= []).push(data);
      return answer(query, data);
    });
  }
  await nc.flush();
  gateway = await startGatewayService(
    loadGatewayConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      METRICS_PORT: '0',
      NATS_URL: TEST_NATS_URL,
      NATS_PREFIX: ns.prefix,
      METERING_TIMEOUT_MS: String(METERING_TIMEOUT_MS),
    }),
    { logDestination: logs },
  );
});

afterAll(async () => {
  await gateway?.close();
  await nc?.close();
});

beforeEach(() => {
  for (const query of Object.keys(asked)) delete asked[query];
  answer = () => undefined;
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${secret}`, ...headers }, signal: AbortSignal.timeout(5000) });

const event = (n: number) => ({ eventId: `evt_${n}`, outcome: 'allowed' });

describe('metering behind the gateway', () => {
  it('asks metering for the usage of the caller’s key, in the caller’s account', async () => {
    const windows = { keyId: OWN_KEY, granularity: 'day', data: [] };
    answer = () => ok(windows);
    const response = await get(`/v1/api-keys/${OWN_KEY}/usage?granularity=day&from=2026-11-01T00:00:00%2B01:00&to=2026-11-26T00:00:00Z`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(windows);
    const requestId = response.headers.get('x-request-id');
    expect(asked.usage).toEqual([{ accountId: ACCOUNT, requestId, keyId: OWN_KEY, granularity: 'day', from: '2026-10-31T23:00:00.000Z', to: '2026-11-26T00:00:00.000Z' }]);
  });

  it('never asks metering about a key the keys service does not give the caller', async () => {
    for (const path of [`/v1/api-keys/${FOREIGN_KEY}/usage`, `/v1/api-keys/${FOREIGN_KEY}/events`, `/v1/alerts?keyId=${FOREIGN_KEY}`]) {
      const response = await get(path);
      expect({ path, status: response.status, body: await response.json() }).toEqual({
        path,
        status: 404,
        body: { error: 'Not Found', details: `API key ${FOREIGN_KEY} not found` },
      });
    }
    expect(asked).toEqual({});
  });

  it('streams every page of usage events as NDJSON, following the cursors', async () => {
    const pages: Record<string, { data: unknown[]; nextCursor: string | null }> = {
      first: { data: [event(5), event(4)], nextCursor: 'c1' },
      c1: { data: [event(3), event(2)], nextCursor: 'c2' },
      c2: { data: [event(1)], nextCursor: null },
    };
    answer = (_query, { cursor }) => ok(pages[(cursor as string | undefined) ?? 'first']);
    const response = await get(`/v1/api-keys/${OWN_KEY}/events?outcome=allowed`, { accept: 'application/x-ndjson' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await response.text()).toBe([5, 4, 3, 2, 1].map((n) => `${JSON.stringify(event(n))}\n`).join(''));
    const base = { accountId: ACCOUNT, requestId: response.headers.get('x-request-id'), keyId: OWN_KEY, outcome: 'allowed', limit: 1000 };
    expect(asked.events).toEqual([base, { ...base, cursor: 'c1' }, { ...base, cursor: 'c2' }]);
  });

  it('answers HEAD on a stream with the headers alone', async () => {
    answer = (_query, { cursor }) => ok(cursor === undefined ? { data: [event(2)], nextCursor: 'c1' } : { data: [event(1)], nextCursor: null });
    const response = await fetch(`${gateway.url}/v1/api-keys/${OWN_KEY}/events`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${secret}`, accept: 'application/x-ndjson' },
      signal: AbortSignal.timeout(5000),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await response.text()).toBe('');
    expect((await get('/healthz')).status).toBe(200);
  });

  it('answers one JSON page without an NDJSON Accept header', async () => {
    answer = () => ok({ data: [event(2)], nextCursor: 'c1' });
    const response = await get(`/v1/api-keys/${OWN_KEY}/events?limit=1`, { accept: 'application/json' });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ data: [event(2)], nextCursor: 'c1' });
    expect(asked.events).toEqual([{ accountId: ACCOUNT, requestId: response.headers.get('x-request-id'), keyId: OWN_KEY, limit: 1 }]);
  });

  it('cuts a stream short, visibly, when metering stops answering in the middle', async () => {
    answer = (_query, { cursor }) => (cursor === undefined ? ok({ data: [event(2)], nextCursor: 'c1' }) : fail(serviceError(503, 'Metering service unavailable')));
    const response = await get(`/v1/api-keys/${OWN_KEY}/events`, { accept: 'application/x-ndjson' });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    expect(logs.text()).toContain('usage event stream cut short');
  });

  it('answers an NDJSON request whose first page fails with a JSON error', async () => {
    answer = () => fail(serviceError(400, 'cursor: invalid cursor'));
    const response = await get(`/v1/api-keys/${OWN_KEY}/events?cursor=nope`, { accept: 'application/x-ndjson' });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ error: 'Bad Request', details: 'cursor: invalid cursor' });
  });

  it('answers 503 when metering does not answer in time', async () => {
    for (const path of [`/v1/api-keys/${OWN_KEY}/usage`, `/v1/api-keys/${OWN_KEY}/events`, '/v1/alerts']) {
      const started = Date.now();
      const response = await get(path);
      expect({ path, status: response.status, body: await response.json() }).toEqual({
        path,
        status: 503,
        body: { error: 'Service Unavailable', details: 'Metering service unavailable' },
      });
      expect(Date.now() - started).toBeLessThan(METERING_TIMEOUT_MS + 1000);
    }
  });

  it('fills lastUsedAt from metering, one query per list page', async () => {
    answer = () => ok({ [OWN_KEY]: '2026-11-26T10:15:00.000Z' });
    const one = await get(`/v1/api-keys/${OWN_KEY}`);
    expect(await one.json()).toEqual({ ...keyObject(OWN_KEY), lastUsedAt: '2026-11-26T10:15:00.000Z' });
    const list = await get('/v1/api-keys');
    expect(await list.json()).toEqual({ data: [{ ...keyObject(OWN_KEY), lastUsedAt: '2026-11-26T10:15:00.000Z' }, keyObject(FOREIGN_KEY)], nextCursor: null });
    expect(asked.lastUsed).toEqual([
      { accountId: ACCOUNT, requestId: one.headers.get('x-request-id'), keyIds: [OWN_KEY] },
      { accountId: ACCOUNT, requestId: list.headers.get('x-request-id'), keyIds: [OWN_KEY, FOREIGN_KEY] },
    ]);
  });

  it('keeps lastUsedAt null, and the key call working, when metering is slow or answers nonsense', async () => {
    for (const reply of [undefined, ok({ [OWN_KEY]: 'yesterday' })]) {
      answer = () => reply;
      const started = Date.now();
      const response = await get(`/v1/api-keys/${OWN_KEY}`);
      expect({ status: response.status, body: await response.json() }).toEqual({ status: 200, body: keyObject(OWN_KEY) });
      expect(Date.now() - started).toBeLessThan(METERING_TIMEOUT_MS + 1000);
    }
    const metrics = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_last_used_unavailable_total\{service="gateway"\} [2-9]/m);
  });
});
