import { createHash } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { ulid } from 'ulid';
import { connectNats, encodeJson } from '@keyplane/nats';
import { TEST_NATS_URL, usageEvent, waitFor } from '@keyplane/testing';
import { awayFromHourEnd, hourEndWaitMs, sleep, startStack, type Answer, type Stack } from './stack.js';

// DESIGN §7's query endpoints (usage, usage events, audit, alerts) and §8's usage events, as a
// client probing their edges sees them: account isolation, permissions, bad and tampered query
// input, counting, paging and NDJSON (docs/api.md where DESIGN is silent).

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const notFound = (keyId: string) => ({ error: 'Not Found', details: `API key ${keyId} not found` });

let stack: Stack;

/** The metered key of acc_root and what its traffic was answered. */
let metered: { key: string; id: string };
let statuses: number[];
let hourStart: number;
/** A key of acc_root whose events are published straight onto the usage stream, many sharing one millisecond. */
let tied: { key: string; id: string };
const TIED_AT = Date.now() - 10 * 60_000;
const tiedIds: string[] = [];
/** A key of another account (acc_other), with every permission. */
let other: { key: string; id: string };
const secrets: string[] = [];

const expected = { requests: 10, allowed: 5, forbidden: 2, rateLimited: 2, unauthorized: 1 };

beforeAll(async () => {
  stack = await startStack('e2e_query_edges', { metering: {} });
  other = await stack.createAccountAdmin('acc_other');
  // acc_other makes one more key of its own, so it has lifecycle events of its own to list.
  await stack.createKey({ name: 'other worker', permissions: ['FLOWS:READ'] }, other.key);

  tied = await stack.createKey({ name: 'tied', permissions: ['FLOWS:READ'] });
  await publishTiedUsage(stack, tied.id);

  // 7 requests the quota counts (200 x3, 404 outside the route table, 405, 403 x2), two 429s, one 401 after revocation.
  metered = await stack.createKey({ name: 'metered', permissions: ['FLOWS:READ'], rateLimits: { hour: 7, day: 100 } });
  secrets.push(metered.key, tied.key, other.key);
  await awayFromHourEnd(30);
  hourStart = Math.floor(Date.now() / HOUR) * HOUR;
  statuses = [];
  const send = async (method: string, path: string, key = metered.key) =>
    statuses.push((await stack.call(method, path, { key, body: method === 'POST' ? { name: 'x' } : undefined })).status);
  for (let i = 0; i < 3; i++) await send('GET', '/v1/flows');
  await send('GET', '/v1/nope');
  await send('DELETE', '/v1/flows');
  await send('POST', '/v1/flows');
  await send('POST', '/v1/flows');
  await send('GET', '/v1/flows');
  await send('GET', '/v1/flows');
  await stack.call('POST', `/v1/api-keys/${metered.id}/revoke`, { body: {} });
  await sleep(300);
  await send('GET', '/v1/flows');
  if (Math.floor(Date.now() / HOUR) * HOUR !== hourStart) throw new Error('the traffic crossed an hour boundary');

  await waitFor(
    'metering to count the metered key and the published events',
    async () => {
      const usage = await stack.call('GET', `/v1/api-keys/${metered.id}/usage?from=${iso(hourStart)}&to=${iso(hourStart)}`);
      const events = await stack.call('GET', `/v1/api-keys/${tied.id}/events?limit=1000`);
      return usage.body.data?.[0]?.requests === expected.requests && events.body.data?.length === tiedIds.length;
    },
    20_000,
    100,
  );
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

/** Every page of a listing, following nextCursor, with a guard against endless paging. */
async function allPages(path: string, key = stack.adminKey): Promise<{ pages: Answer[]; items: Answer['body'][] }> {
  const pages: Answer[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Answer = await stack.call('GET', `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`, { key });
    if (page.status !== 200) throw new Error(`${path} answered ${page.status}: ${JSON.stringify(page.body)}`);
    pages.push(page);
    cursor = page.body.nextCursor;
  } while (cursor !== null && pages.length < 200);
  return { pages, items: pages.flatMap((page) => page.body.data) };
}

async function ndjson(path: string, key = stack.adminKey): Promise<{ status: number; type: string | null; lines: Answer['body'][]; text: string }> {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    headers: { authorization: `Bearer ${key}`, accept: 'application/x-ndjson' },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n').map((line) => JSON.parse(line));
  return { status: response.status, type: response.headers.get('content-type'), lines, text };
}

describe('counting (DESIGN §7: requests = every request presented; allowed + forbidden = what the quota counted)', () => {
  it('answered the mix as planned', () => {
    expect(statuses).toEqual([200, 200, 200, 404, 405, 403, 403, 429, 429, 401]);
  });

  it('counts 404 and 405 after authentication as allowed, and the hour and the day agree', async () => {
    const hour = await stack.call('GET', `/v1/api-keys/${metered.id}/usage?granularity=hour&from=${iso(hourStart)}&to=${iso(hourStart)}`);
    expect(hour.body.data).toEqual([{ start: iso(hourStart), ...expected }]);
    const dayStart = Math.floor(hourStart / (24 * HOUR)) * 24 * HOUR;
    const day = await stack.call('GET', `/v1/api-keys/${metered.id}/usage?granularity=day&from=${iso(dayStart)}&to=${iso(dayStart)}`);
    expect(day.body.data).toEqual([{ start: iso(dayStart), ...expected }]);
  });

  it('has one usage event per request, the last counted one at hourUsed 7', async () => {
    const { items } = await allPages(`/v1/api-keys/${metered.id}/events?limit=3`);
    expect(items).toHaveLength(expected.requests);
    const counted = items.filter((event) => event.outcome === 'allowed' || event.outcome === 'forbidden');
    expect(Math.max(...counted.map((event) => event.hourUsed))).toBe(7);
    expect(items.filter((event) => event.outcome === 'allowed').map((event) => [event.method, event.path]).sort()).toEqual(
      [['DELETE', '/v1/flows'], ['GET', '/v1/flows'], ['GET', '/v1/flows'], ['GET', '/v1/flows'], ['GET', '/v1/nope']].sort(),
    );
  });

  it('gives each event the §8 fields and nothing secret', async () => {
    const { items } = await allPages(`/v1/api-keys/${metered.id}/events`);
    const design = ['eventId', 'occurredAt', 'keyId', 'accountId', 'environment', 'outcome', 'reason', 'permission', 'method', 'path', 'clientIp', 'userAgent', 'hourUsed', 'dayUsed'];
    for (const event of items) {
      for (const field of design) expect(Object.keys(event)).toContain(field);
      expect(event).toMatchObject({ keyId: metered.id, accountId: 'acc_root', environment: 'live' });
    }
    const text = JSON.stringify(items);
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(sha256(secret));
    }
  });
});

describe('counting refusals that name the key', () => {
  let expiring: { key: string; id: string };
  let plain: { key: string; id: string };
  let seen: number[];
  let start: number;
  const usage = (id: string) => stack.call('GET', `/v1/api-keys/${id}/usage?from=${iso(start)}&to=${iso(start)}`).then((a) => a.body.data?.[0]);

  beforeAll(async () => {
    expiring = await stack.createKey({ name: 'expiring', permissions: ['FLOWS:READ'], expiresAt: new Date(Date.now() + 1500).toISOString() });
    plain = await stack.createKey({ name: 'plain', permissions: ['FLOWS:READ'] });
    secrets.push(expiring.key, plain.key);
    await awayFromHourEnd(20);
    start = Math.floor(Date.now() / HOUR) * HOUR;
    seen = [];
    seen.push((await stack.call('GET', '/v1/flows', { key: expiring.key })).status);
    seen.push((await stack.call('GET', '/v1/flows', { key: plain.key })).status);
    // docs/api.md: a key in the query string is refused with 401 even when the header is valid.
    seen.push((await stack.call('GET', `/v1/flows?api_key=${plain.key}`, { key: plain.key })).status);
    await sleep(1600);
    seen.push((await stack.call('GET', '/v1/flows', { key: expiring.key })).status);
    seen.push((await stack.call('GET', '/v1/flows', { key: plain.key })).status);
    await waitFor('metering to count both keys', async () => (await usage(expiring.id))?.requests >= 2 && (await usage(plain.id))?.allowed >= 2, 15_000, 100);
  }, 30_000 + hourEndWaitMs(20));

  it('answered as planned', () => {
    expect(seen).toEqual([200, 200, 401, 401, 200]);
  });

  it('counts a request with an expired key as unauthorized, with reason expired', async () => {
    expect(await usage(expiring.id)).toEqual({ start: iso(start), requests: 2, allowed: 1, forbidden: 0, rateLimited: 0, unauthorized: 1 });
    const expiredEvents = await stack.call('GET', `/v1/api-keys/${expiring.id}/events?outcome=unauthorized`);
    expect(expiredEvents.body.data.map((e: { reason: string }) => e.reason)).toEqual(['expired']);
  });

  it('counts nothing for a request refused for a key in its query string: it is refused before any key is read (docs/api.md)', async () => {
    expect(await usage(plain.id)).toEqual({ start: iso(start), requests: 2, allowed: 2, forbidden: 0, rateLimited: 0, unauthorized: 0 });
  });
});

describe('paging (newest first, every event exactly once, even when events share a timestamp)', () => {
  it('returns every published event once for any page size, newest first', async () => {
    const { items: reference } = await allPages(`/v1/api-keys/${tied.id}/events?limit=1000`);
    expect(new Set(reference.map((event) => event.eventId))).toEqual(new Set(tiedIds));
    const times = reference.map((event) => Date.parse(event.occurredAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    for (const limit of [1, 2, 3, 4, 7]) {
      const { items } = await allPages(`/v1/api-keys/${tied.id}/events?limit=${limit}`);
      expect({ limit, ids: items.map((event) => event.eventId) }).toEqual({ limit, ids: reference.map((event) => event.eventId) });
    }
  });

  it('streams the same events as NDJSON as paging returns, for any page size', async () => {
    const { items } = await allPages(`/v1/api-keys/${tied.id}/events?limit=2`);
    for (const query of ['', '?limit=1', '?limit=3']) {
      const streamed = await ndjson(`/v1/api-keys/${tied.id}/events${query}`);
      expect({ query, status: streamed.status, type: streamed.type }).toEqual({ query, status: 200, type: 'application/x-ndjson' });
      expect(streamed.lines).toEqual(items);
    }
    const forbidden = await ndjson(`/v1/api-keys/${metered.id}/events?outcome=forbidden&limit=1`);
    expect(forbidden.lines).toEqual((await allPages(`/v1/api-keys/${metered.id}/events?outcome=forbidden`)).items);
    expect(forbidden.lines).toHaveLength(2);
  });

  it('filters by time on the tied millisecond, both ends included', async () => {
    const answer = await stack.call('GET', `/v1/api-keys/${tied.id}/events?from=${iso(TIED_AT)}&to=${iso(TIED_AT)}`);
    expect(answer.status).toBe(200);
    expect(answer.body.data).toHaveLength(tiedIds.length - 3);
  });

  it('pages alerts exactly once, newest first', async () => {
    const { items: all } = await allPages('/v1/alerts?limit=1000');
    const { items: paged } = await allPages('/v1/alerts?limit=1');
    expect(paged).toEqual(all);
    const times = all.map((alert) => alert.detectedAt);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('pages audit events exactly once, newest first', async () => {
    const { items: all } = await allPages('/v1/audit/events?limit=1000');
    const { items: paged } = await allPages('/v1/audit/events?limit=2');
    expect(paged).toEqual(all);
    expect(new Set(all.map((event) => event.id)).size).toBe(all.length);
  });
});

describe('accounts (DESIGN §7: callers see only their own account)', () => {
  it("answers acc_other's key like a missing key for acc_root's key's usage and events", async () => {
    for (const path of [`/v1/api-keys/${metered.id}/usage`, `/v1/api-keys/${metered.id}/events`, `/v1/alerts?keyId=${metered.id}`, `/v1/api-keys/${metered.id}`]) {
      const answer = await stack.call('GET', path, { key: other.key });
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 404, body: notFound(metered.id) });
    }
    const streamed = await ndjson(`/v1/api-keys/${metered.id}/events`, other.key);
    expect({ status: streamed.status, body: JSON.parse(streamed.text) }).toEqual({ status: 404, body: notFound(metered.id) });
  });

  it("answers acc_root's admin like a missing key for acc_other's key", async () => {
    for (const path of [`/v1/api-keys/${other.id}/usage`, `/v1/api-keys/${other.id}/events`, `/v1/alerts?keyId=${other.id}`]) {
      const answer = await stack.call('GET', path);
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 404, body: notFound(other.id) });
    }
  });

  it("lists only acc_other's own alerts and audit events to acc_other", async () => {
    const rootAlerts = await stack.call('GET', '/v1/alerts');
    expect(rootAlerts.body.data.length).toBeGreaterThan(0); // quota_exhausted, revoked_key_use on the metered key
    const alerts = await stack.call('GET', '/v1/alerts', { key: other.key });
    expect(alerts.status).toBe(200);
    for (const alert of alerts.body.data) expect(alert.accountId).toBe('acc_other');

    const audit = await allPages('/v1/audit/events', other.key);
    expect(audit.items.length).toBeGreaterThan(0);
    for (const event of audit.items) expect({ id: event.id, accountId: event.accountId }).toEqual({ id: event.id, accountId: 'acc_other' });
    const rootKeys = new Set([metered.id, tied.id]);
    expect(audit.items.filter((event) => rootKeys.has(event.keyId))).toEqual([]);
  });

  it("gives acc_other nothing of acc_root's key in audit when it filters by that key: 404, as usage and alerts do", async () => {
    const answer = await stack.call('GET', `/v1/audit/events?keyId=${metered.id}`, { key: other.key });
    expect(answer).toMatchObject({ status: 404, body: notFound(metered.id) });
  });

  it('shows acc_root none of acc_other in its audit trail', async () => {
    const { items } = await allPages('/v1/audit/events');
    for (const event of items) expect(event.accountId).toBe('acc_root');
  });
});

describe('permissions', () => {
  it('answers a test key 403 on every query endpoint, naming the permission', async () => {
    const { key } = await stack.createKey({ name: 'tester', environment: 'test', permissions: ['FLOWS:READ'] });
    secrets.push(key);
    for (const [path, permission] of [
      [`/v1/api-keys/${metered.id}/usage`, 'KEYS:READ'],
      [`/v1/api-keys/${metered.id}/events`, 'KEYS:READ'],
      ['/v1/audit/events', 'AUDIT:READ'],
      ['/v1/alerts', 'AUDIT:READ'],
    ]) {
      const answer = await stack.call('GET', path, { key });
      expect({ path, status: answer.status, body: answer.body }).toEqual({
        path,
        status: 403,
        body: { error: 'Forbidden', details: `Missing required permission: ${permission}` },
      });
    }
  });

  it('refuses to grant a test key KEYS:READ or AUDIT:READ', async () => {
    for (const permission of ['KEYS:READ', 'AUDIT:READ']) {
      const answer = await stack.call('POST', '/v1/api-keys', { body: { name: 't', environment: 'test', permissions: ['FLOWS:READ', permission] } });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: 'Bad Request', details: expect.stringMatching(/^permissions\[1\]: /) });
    }
  });

  it('needs KEYS:READ for usage and events (KEYS:WRITE is not enough), AUDIT:READ for audit and alerts', async () => {
    const { key } = await stack.createKey({ name: 'writer', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    for (const path of [`/v1/api-keys/${metered.id}/usage`, `/v1/api-keys/${metered.id}/events`]) {
      expect(await stack.call('GET', path, { key })).toMatchObject({ status: 403, body: { error: 'Forbidden', details: 'Missing required permission: KEYS:READ' } });
    }
    const { key: auditor } = await stack.createKey({ name: 'auditor', permissions: ['AUDIT:READ'] });
    expect((await stack.call('GET', '/v1/audit/events', { key: auditor })).status).toBe(200);
    expect((await stack.call('GET', '/v1/alerts', { key: auditor })).status).toBe(200);
    expect(await stack.call('GET', `/v1/api-keys/${metered.id}/usage`, { key: auditor })).toMatchObject({ status: 403 });
  });
});

describe('unknown and malformed key ids (404, exactly like a missing key)', () => {
  const missing = 'key_01J0000000000000000000ZZZZ';

  it.each([`/v1/api-keys/${missing}/usage`, `/v1/api-keys/${missing}/events`, `/v1/alerts?keyId=${missing}`])('%s answers 404', async (path) => {
    const answer = await stack.call('GET', path);
    expect({ status: answer.status, type: answer.headers.get('content-type'), body: answer.body }).toEqual({ status: 404, type: 'application/json', body: notFound(missing) });
  });

  it.each(['nope', 'key_123', 'key_01j0000000000000000000zzzz'])('a malformed id (%s) in the path answers 404 Not Found', async (bad) => {
    for (const suffix of ['', '/usage', '/events']) {
      const answer = await stack.call('GET', `/v1/api-keys/${bad}${suffix}`);
      expect({ suffix, status: answer.status, body: answer.body }).toEqual({ suffix, status: 404, body: notFound(bad) });
    }
  });
});

/** A 400 naming the parameter: `details` starts with `<param>: ` (or names an unknown one). */
function expectBadParam(answer: Answer, param: string) {
  const escaped = param.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  expect({ status: answer.status, type: answer.headers.get('content-type'), body: answer.body }).toEqual({
    status: 400,
    type: 'application/json',
    body: { error: 'Bad Request', details: expect.stringMatching(new RegExp(`^(${escaped}: .+|unknown query parameter "${escaped}")$`)) },
  });
}

describe('bad query input: a 400 naming the parameter, never a 500 or 503', () => {
  const tamperedCursors: [string, string][] = [
    ['a NUL in the id', b64(['2026-01-01T00:00:00.000Z', 'evt\u0000x'])],
    ['a time before Postgres can hold', b64(['-271821-04-20T00:00:00.000Z', '01J0000000000000000000ZZZZ'])],
    ['a wrong shape', b64({ at: '2026-01-01T00:00:00.000Z', id: 'x' })],
    ['an empty id', b64(['2026-01-01T00:00:00.000Z', ''])],
    ['plain garbage', 'AAAA'],
  ];

  describe('GET /v1/api-keys/:id/usage', () => {
    it.each([
      ['granularity=week', 'granularity'],
      ['granularity=', 'granularity'],
      ['granularity=hour&granularity=day', 'granularity'],
      ['from=not-a-date', 'from'],
      ['from=2026-11-26', 'from'],
      ['to=12345', 'to'],
      ['from=2026-11-26T11:00:00Z&to=2026-11-26T10:00:00Z', 'from'],
      ['from=2999-01-01T00:00:00Z', 'from'],
      ['from=1970-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
      ['granularity=day&from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z', 'from'],
      ['from=2026-01-01T00:00:00Z&from=2026-01-02T00:00:00Z', 'from'],
      ['limit=5', 'limit'],
      ['cursor=abc', 'cursor'],
      ['__proto__=x', '__proto__'],
      ['constructor=x', 'constructor'],
    ])('%s', async (query, param) => {
      expectBadParam(await stack.call('GET', `/v1/api-keys/${metered.id}/usage?${query}`), param);
    });
  });

  describe('GET /v1/api-keys/:id/events', () => {
    it.each([
      ['limit=0', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=99999999999999999999', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['outcome=bogus', 'outcome'],
      ['outcome=allowed&outcome=forbidden', 'outcome'],
      ['from=yesterday', 'from'],
      ['to=2026-13-01T00:00:00Z', 'to'],
      ['from=2026-11-26T11:00:00Z&to=2026-11-26T10:00:00Z', 'from'],
      ['cursor=', 'cursor'],
      ['cursor=not-a-cursor', 'cursor'],
      ['cursor=a&cursor=b', 'cursor'],
      ['since=2026-01-01T00:00:00Z', 'since'],
      ['__proto__=x', '__proto__'],
    ])('%s', async (query, param) => {
      expectBadParam(await stack.call('GET', `/v1/api-keys/${metered.id}/events?${query}`), param);
    });

    it.each(tamperedCursors)('a tampered cursor (%s)', async (_case, cursor) => {
      expectBadParam(await stack.call('GET', `/v1/api-keys/${metered.id}/events?cursor=${encodeURIComponent(cursor)}`), 'cursor');
    });

    it('the same 400 as JSON when NDJSON is asked for', async () => {
      const streamed = await ndjson(`/v1/api-keys/${metered.id}/events?limit=0`);
      expect({ status: streamed.status, type: streamed.type, body: JSON.parse(streamed.text) }).toEqual({
        status: 400,
        type: 'application/json',
        body: { error: 'Bad Request', details: 'limit: Too small: expected number to be >=1' },
      });
    });
  });

  describe('GET /v1/audit/events', () => {
    it.each([
      ['keyId=nope', 'keyId'],
      ['type=KeyDeleted', 'type'],
      ['from=yesterday', 'from'],
      ['to=2026-11-26', 'to'],
      ['from=2026-11-26T11:00:00Z&to=2026-11-26T10:00:00Z', 'from'],
      ['limit=0', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=5000', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['outcome=allowed', 'outcome'],
      ['__proto__=x', '__proto__'],
    ])('%s', async (query, param) => {
      expectBadParam(await stack.call('GET', `/v1/audit/events?${query}`), param);
    });

    it.each(tamperedCursors)('a tampered cursor (%s)', async (_case, cursor) => {
      expectBadParam(await stack.call('GET', `/v1/audit/events?cursor=${encodeURIComponent(cursor)}`), 'cursor');
    });
  });

  describe('GET /v1/alerts', () => {
    it.each([
      ['keyId=nope', 'keyId'],
      ['type=bogus', 'type'],
      ['since=yesterday', 'since'],
      ['limit=0', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=1&limit=2', 'limit'],
      ['type=quota_exhausted&type=new_source', 'type'],
      ['cursor=not-a-cursor', 'cursor'],
      ['from=2026-01-01T00:00:00Z', 'from'],
      ['__proto__=x', '__proto__'],
    ])('%s', async (query, param) => {
      expectBadParam(await stack.call('GET', `/v1/alerts?${query}`), param);
    });

    it.each(tamperedCursors)('a tampered cursor (%s)', async (_case, cursor) => {
      expectBadParam(await stack.call('GET', `/v1/alerts?cursor=${encodeURIComponent(cursor)}`), 'cursor');
    });
  });

  it('accepts extreme but valid dates as 200 or a 400 naming the parameter', async () => {
    for (const path of [
      `/v1/api-keys/${metered.id}/events?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z`,
      `/v1/api-keys/${metered.id}/events?from=0000-01-01T00:00:00%2B01:00`,
      `/v1/api-keys/${metered.id}/usage?from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59Z`,
      `/v1/api-keys/${metered.id}/usage?from=0001-01-01T00:00:00Z&to=0001-01-01T05:00:00Z`,
      `/v1/api-keys/${metered.id}/usage?to=9999-12-31T23:59:59-01:00&from=9999-12-31T00:00:00Z`,
      '/v1/alerts?since=0000-01-01T00:00:00%2B01:00',
      '/v1/audit/events?to=9999-12-31T23:59:59-01:00',
    ]) {
      const answer = await stack.call('GET', path);
      expect({ path, ok: answer.status === 200 || (answer.status === 400 && answer.body?.error === 'Bad Request'), status: answer.status }).toMatchObject({ path, ok: true });
    }
  });
});

/**
 * 10 events on the tied key: 7 sharing one millisecond (ids of mixed case and form, as any
 * producer may send), 3 a second earlier. Published before the traffic, so once that is counted these are stored too.
 */
async function publishTiedUsage(on: Stack, keyId: string): Promise<void> {
  const nc = await connectNats({ url: TEST_NATS_URL, name: 'e2e-query-edges' });
  try {
    const js = jetstream(nc);
    const ids = [ulid(TIED_AT), ulid(TIED_AT), ulid(TIED_AT), 'evt-a', 'evt-B', 'evt_b', 'EVT-A', ulid(TIED_AT - 1000), ulid(TIED_AT - 1000), ulid(TIED_AT - 1000)];
    for (const [index, eventId] of ids.entries()) {
      const at = index < 7 ? TIED_AT : TIED_AT - 1000;
      const event = usageEvent({ eventId, occurredAt: iso(at), keyId, accountId: 'acc_root', clientIp: '198.51.100.9', userAgent: 'probe', hourUsed: index + 1, dayUsed: index + 1 });
      await js.publish(on.ns.subjects.usageEvents, encodeJson(event), { msgID: `${keyId}-${eventId}` });
      tiedIds.push(eventId);
    }
  } finally {
    await nc.close();
  }
}
