import { jetstream } from '@nats-io/jetstream';
import { ulid } from 'ulid';
import { connectNats, encodeJson } from '@keyplane/nats';
import { TEST_NATS_URL, usageEvent, waitFor } from '@keyplane/testing';
import { awayFromHourEnd, sleep, startStack, type Answer, type Stack } from './stack.js';

// DESIGN §7 usage, usage events, alerts and lastUsedAt, end to end: a known mix of requests
// through the gateway, counted by auth, metered from the usage stream, read back through the
// gateway by the key's own account.

let stack: Stack;
let id: string;
let statuses: number[];
/** The key's first secret and the one its rotation handed out. */
let secrets: string[];
let hourStart: number;
let events: Answer['body'][];

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const badRequest = (details: string) => ({ error: 'Bad Request', details });
const notFound = (keyId: string) => ({ error: 'Not Found', details: `API key ${keyId} not found` });

/** Another account's key, known to metering only: its events are published straight onto the usage stream. */
const FOREIGN_KEY = `key_${ulid()}`;

const counts = { requests: 12, allowed: 4, forbidden: 2, rateLimited: 2, unauthorized: 4 };

beforeAll(async () => {
  stack = await startStack('e2e_usage', { metering: {} });
  // Published before the traffic: metering reads the stream in order, so once the traffic is counted these are too.
  await publishForeignUsage(stack);

  const created = await stack.createKey({ name: 'metered', permissions: ['FLOWS:READ'], rateLimits: { hour: 6, day: 100 } });
  id = created.id;
  await awayFromHourEnd(30);
  hourStart = Math.floor(Date.now() / HOUR) * HOUR;
  statuses = [];
  const send = async (times: number, method: string, key: string) => {
    for (let i = 0; i < times; i++) statuses.push((await stack.call(method, '/v1/flows', { key, body: method === 'POST' ? { name: 'x' } : undefined })).status);
  };
  await send(4, 'GET', created.key);
  await send(2, 'POST', created.key);
  await send(2, 'GET', created.key);
  const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: {} });
  // DESIGN §2: a rotation or revocation is in force on every auth replica within 250 ms.
  await sleep(300);
  await send(3, 'GET', created.key);
  await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: {} });
  await sleep(300);
  await send(1, 'GET', rotated.body.key);
  secrets = [created.key, rotated.body.key];
  if (Math.floor(Date.now() / HOUR) * HOUR !== hourStart) throw new Error('the traffic crossed an hour boundary');

  await waitFor(
    'metering to count every request',
    async () => (await stack.call('GET', `/v1/api-keys/${id}/usage?from=${iso(hourStart)}&to=${iso(hourStart)}`)).body.data?.[0]?.requests === counts.requests,
    15_000,
    100,
  );
  events = (await stack.call('GET', `/v1/api-keys/${id}/events`)).body.data;
}, 90_000);

afterAll(() => stack?.close());

describe('usage windows', () => {
  it('answered the traffic as the key allowed it, and logged no secret', () => {
    expect(statuses).toEqual([200, 200, 200, 200, 403, 403, 429, 429, 401, 401, 401, 401]);
    for (const secret of secrets) expect(stack.logs.text()).not.toContain(secret);
  });

  it('counts every request by outcome in its hour, with idle hours as zeros', async () => {
    const answer = await stack.call('GET', `/v1/api-keys/${id}/usage?granularity=hour&from=${iso(hourStart - 2 * HOUR)}&to=${iso(hourStart + 59 * 60_000)}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json');
    const idle = { requests: 0, allowed: 0, forbidden: 0, rateLimited: 0, unauthorized: 0 };
    expect(answer.body).toEqual({
      keyId: id,
      granularity: 'hour',
      data: [
        { start: iso(hourStart - 2 * HOUR), ...idle },
        { start: iso(hourStart - HOUR), ...idle },
        { start: iso(hourStart), ...counts },
      ],
    });
  });

  it('counts the same requests in their day', async () => {
    const dayStart = Math.floor(hourStart / DAY) * DAY;
    const answer = await stack.call('GET', `/v1/api-keys/${id}/usage?granularity=day&from=${iso(dayStart - DAY)}&to=${iso(dayStart + 12 * HOUR)}`);
    expect(answer.body).toEqual({
      keyId: id,
      granularity: 'day',
      data: [
        { start: iso(dayStart - DAY), requests: 0, allowed: 0, forbidden: 0, rateLimited: 0, unauthorized: 0 },
        { start: iso(dayStart), ...counts },
      ],
    });
  });

  it('defaults to every hour of the last 24', async () => {
    const answer = await stack.call('GET', `/v1/api-keys/${id}/usage`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ keyId: id, granularity: 'hour' });
    expect(answer.body.data).toHaveLength(25);
    expect(answer.body.data.reduce((sum: number, window: { requests: number }) => sum + window.requests, 0)).toBe(counts.requests);
  });

  it.each([
    ['granularity=minute', 'granularity: must be "hour" or "day"'],
    ['from=yesterday', 'from: must be an ISO 8601 date-time'],
    ['to=2026-11-26', 'to: must be an ISO 8601 date-time'],
    ['from=2026-11-26T11:00:00Z&to=2026-11-26T10:00:00Z', 'from: must not be after to'],
    ['from=2026-01-01T00:00:00Z&to=2026-04-04T00:00:00Z', 'from: the range spans 2233 hourly windows, at most 2232 are allowed'],
    ['granularity=hour&window=1', 'unknown query parameter "window"'],
  ])('answers a bad parameter (%s) with a 400 naming it', async (query, details) => {
    expect(await stack.call('GET', `/v1/api-keys/${id}/usage?${query}`)).toMatchObject({ status: 400, body: badRequest(details) });
  });
});

describe('usage events', () => {
  it('lists the key’s events newest first, with what each request was', () => {
    expect(events).toHaveLength(counts.requests);
    const times = events.map((event) => event.occurredAt);
    expect([...times].sort().reverse()).toEqual(times);
    const byOutcome: Record<string, number> = {};
    for (const event of events) byOutcome[event.outcome] = (byOutcome[event.outcome] ?? 0) + 1;
    expect(byOutcome).toEqual({ allowed: 4, forbidden: 2, rate_limited: 2, unauthorized: 4 });
    expect(events[0]).toEqual({
      eventId: expect.any(String),
      occurredAt: expect.stringMatching(ISO),
      keyId: id,
      accountId: 'acc_root',
      environment: 'live',
      outcome: 'unauthorized',
      reason: 'revoked',
      permission: 'FLOWS:READ',
      method: 'GET',
      path: '/v1/flows',
      clientIp: '127.0.0.1',
      userAgent: expect.any(String),
      requestId: expect.stringMatching(/^req_/),
      hourUsed: null,
      dayUsed: null,
      hourLimit: null,
      dayLimit: null,
    });
  });

  it('pages with a cursor', async () => {
    const pages: Answer['body'][] = [];
    let cursor: string | null = null;
    do {
      const page: Answer = await stack.call('GET', `/v1/api-keys/${id}/events?limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      pages.push(page.body);
      cursor = page.body.nextCursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages.map((page) => page.data.length)).toEqual([5, 5, 2]);
    expect(pages.flatMap((page) => page.data)).toEqual(events);
  });

  it('filters by outcome', async () => {
    const limited = await stack.call('GET', `/v1/api-keys/${id}/events?outcome=rate_limited`);
    expect(limited.body.data).toHaveLength(2);
    for (const event of limited.body.data) {
      expect(event).toMatchObject({ outcome: 'rate_limited', reason: 'hour_limit', hourUsed: 6, hourLimit: 6, dayUsed: 6, dayLimit: 100 });
    }
    const forbidden = await stack.call('GET', `/v1/api-keys/${id}/events?outcome=forbidden`);
    expect(forbidden.body.data.map((event: { reason: string; method: string; permission: string }) => [event.reason, event.method, event.permission])).toEqual([
      ['missing_permission', 'POST', 'FLOWS:WRITE'],
      ['missing_permission', 'POST', 'FLOWS:WRITE'],
    ]);
  });

  it('streams them all as NDJSON, following the cursors itself', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/api-keys/${id}/events?limit=5`, {
      headers: { authorization: `Bearer ${stack.adminKey}`, accept: 'application/x-ndjson' },
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const text = await response.text();
    expect(text.endsWith('\n')).toBe(true);
    expect(text.slice(0, -1).split('\n').map((line) => JSON.parse(line))).toEqual(events);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  it.each([
    ['limit=0', 'limit: Too small: expected number to be >=1'],
    ['limit=1001', 'limit: Too big: expected number to be <=1000'],
    ['outcome=denied', 'outcome: must be one of allowed, forbidden, rate_limited, unauthorized'],
    ['from=now', 'from: must be an ISO 8601 date-time'],
    ['cursor=not-a-cursor', 'cursor: invalid cursor'],
    ['granularity=hour', 'unknown query parameter "granularity"'],
  ])('answers a bad parameter (%s) with a 400 naming it', async (query, details) => {
    expect(await stack.call('GET', `/v1/api-keys/${id}/events?${query}`)).toMatchObject({ status: 400, body: badRequest(details) });
  });
});

describe('lastUsedAt', () => {
  it('is the time of the key’s latest request, in the key object and in lists', async () => {
    const newest = events[0].occurredAt;
    expect(await stack.call('GET', `/v1/api-keys/${id}`)).toMatchObject({ status: 200, body: { id, status: 'revoked', lastUsedAt: newest } });
    const listed = await stack.call('GET', '/v1/api-keys?status=revoked');
    expect(listed.body.data.find((key: { id: string }) => key.id === id)).toMatchObject({ lastUsedAt: newest });
  });

  it('stays null for a key never used', async () => {
    const { id: unused } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect(await stack.call('GET', `/v1/api-keys/${unused}`)).toMatchObject({ status: 200, body: { id: unused, lastUsedAt: null } });
  });
});

describe('alerts', () => {
  it('raises quota_exhausted and revoked_key_use for the key, when they happened', async () => {
    const oldest = (outcome: string) => events.filter((event) => event.outcome === outcome).at(-1).occurredAt;
    const alert = (type: string, severity: string, detectedAt: string) => ({
      id: expect.any(String),
      type,
      severity,
      keyId: id,
      accountId: 'acc_root',
      detectedAt,
      summary: expect.any(String),
      evidence: expect.any(Object),
    });
    expect(await stack.call('GET', `/v1/alerts?keyId=${id}`)).toMatchObject({
      status: 200,
      body: {
        data: [alert('revoked_key_use', 'critical', oldest('unauthorized')), alert('quota_exhausted', 'warning', oldest('rate_limited'))],
        nextCursor: null,
      },
    });
  });

  it('filters by type and pages', async () => {
    const exhausted = await stack.call('GET', '/v1/alerts?type=quota_exhausted');
    expect(exhausted.body.data.map((a: { type: string; keyId: string }) => [a.type, a.keyId])).toEqual([['quota_exhausted', id]]);
    const first = await stack.call('GET', `/v1/alerts?keyId=${id}&limit=1`);
    expect(first.body.data.map((a: { type: string }) => a.type)).toEqual(['revoked_key_use']);
    const second = await stack.call('GET', `/v1/alerts?keyId=${id}&limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body).toMatchObject({ data: [{ type: 'quota_exhausted' }], nextCursor: null });
  });

  it.each([
    ['type=spike', 'type: must be one of usage_spike, auth_failure_burst, permission_probe, quota_exhausted, revoked_key_use, new_source'],
    ['since=today', 'since: must be an ISO 8601 date-time'],
    ['limit=5000', 'limit: Too big: expected number to be <=1000'],
    ['keyId=nope', 'keyId: expected a key id like key_01J...'],
  ])('answers a bad parameter (%s) with a 400 naming it', async (query, details) => {
    expect(await stack.call('GET', `/v1/alerts?${query}`)).toMatchObject({ status: 400, body: badRequest(details) });
  });
});

describe('accounts and permissions', () => {
  it('shows another account’s key to no one: its usage, events and alerts read as not found', async () => {
    for (const path of [`/v1/api-keys/${FOREIGN_KEY}/usage`, `/v1/api-keys/${FOREIGN_KEY}/events`, `/v1/alerts?keyId=${FOREIGN_KEY}`]) {
      const answer = await stack.call('GET', path);
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 404, body: notFound(FOREIGN_KEY) });
    }
    const all = await stack.call('GET', '/v1/alerts');
    expect(all.body.data.length).toBeGreaterThan(0);
    for (const alert of all.body.data) expect({ accountId: alert.accountId, foreign: alert.keyId === FOREIGN_KEY }).toEqual({ accountId: 'acc_root', foreign: false });
  });

  it('answers an unknown key like get does', async () => {
    const missing = 'key_01J0000000000000000000ZZZZ';
    expect(await stack.call('GET', `/v1/api-keys/${missing}/usage`)).toMatchObject({ status: 404, body: notFound(missing) });
  });

  it('needs KEYS:READ for usage and events, AUDIT:READ for alerts', async () => {
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ', 'KEYS:READ'] });
    const { key: flowsOnly } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await stack.call('GET', `/v1/api-keys/${id}/usage`, { key })).status).toBe(200);
    for (const path of [`/v1/api-keys/${id}/usage`, `/v1/api-keys/${id}/events`]) {
      expect(await stack.call('GET', path, { key: flowsOnly })).toMatchObject({ status: 403, body: { error: 'Forbidden', details: 'Missing required permission: KEYS:READ' } });
    }
    expect(await stack.call('GET', '/v1/alerts', { key })).toMatchObject({ status: 403, body: { error: 'Forbidden', details: 'Missing required permission: AUDIT:READ' } });
  });
});

/** A request and a 429 on another account's key, which metering stores and alerts on (quota_exhausted). */
async function publishForeignUsage(on: Stack): Promise<void> {
  const nc = await connectNats({ url: TEST_NATS_URL, name: 'e2e-foreign-usage' });
  try {
    const js = jetstream(nc);
    for (const outcome of ['allowed', 'rate_limited'] as const) {
      const event = usageEvent({ occurredAt: new Date().toISOString(), keyId: FOREIGN_KEY, accountId: 'acc_other', outcome, clientIp: '203.0.113.7', userAgent: null, hourLimit: 1, dayLimit: 10 });
      await js.publish(on.ns.subjects.usageEvents, encodeJson(event), { msgID: event.eventId });
    }
  } finally {
    await nc.close();
  }
}
