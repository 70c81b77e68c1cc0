import { waitFor } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { startStack, type Answer, type Stack } from './stack.js';

// Usage, usage events and alerts as a client probing their edges found them diverging from
// DESIGN §7/§8 and docs/api.md: cursors of one listing accepted by another, a default range
// refused for a parameter the caller never sent, and one client address counted as many.

let stack: Stack;
let key: { key: string; id: string };
const badCursor = { error: 'Bad Request', details: 'cursor: invalid cursor' };

beforeAll(async () => {
  stack = await startStack('e2e_metering_contract', { metering: { ALERT_NEW_SOURCE_MIN_REQUESTS: '2' } });
  key = await stack.createKey({ name: 'audited', permissions: ['FLOWS:READ'], rateLimits: { hour: 2, day: 100 } });
  // Two events and a 429 (a quota_exhausted alert), then a second alert on another key: each listing has a second page.
  for (let i = 0; i < 3; i++) await stack.call('GET', '/v1/flows', { key: key.key });
  const other = await stack.createKey({ name: 'other', permissions: ['FLOWS:READ'], rateLimits: { hour: 1, day: 100 } });
  for (let i = 0; i < 2; i++) await stack.call('GET', '/v1/flows', { key: other.key });
  await waitFor('metering to store the traffic and its alerts', async () => (await stack.call('GET', '/v1/alerts')).body.data?.length === 2, 15_000, 100);
}, 60_000);

afterAll(() => stack?.close());

/** The `nextCursor` of a listing's first page of one item. */
async function secondPageCursor(path: string): Promise<string> {
  const page = await stack.call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=1`);
  if (page.status !== 200 || typeof page.body.nextCursor !== 'string') throw new Error(`${path} gave no cursor: ${page.status} ${JSON.stringify(page.body)}`);
  return page.body.nextCursor;
}

const answerOf = ({ status, headers, body }: Answer) => ({ status, type: headers.get('content-type'), body });

describe('cursors (docs/api.md: another endpoint’s cursor is 400 `cursor: ...`)', () => {
  it('refuses a cursor of another listing on usage events and alerts', async () => {
    const events = `/v1/api-keys/${key.id}/events`;
    const cursors = { events: await secondPageCursor(events), alerts: await secondPageCursor('/v1/alerts'), keys: await secondPageCursor('/v1/api-keys') };
    const refused = { status: 400, type: 'application/json', body: badCursor };
    for (const [path, foreign] of [
      ['/v1/alerts', cursors.events],
      ['/v1/alerts', cursors.keys],
      [events, cursors.alerts],
      [events, cursors.keys],
    ] as const) {
      expect({ path, ...answerOf(await stack.call('GET', `${path}?cursor=${encodeURIComponent(foreign)}`)) }).toEqual({ path, ...refused });
    }
  });
});

describe('usage with only `to` (docs/api.md: `from` defaults to 24 hours or 30 days before `to`)', () => {
  const idle = { requests: 0, allowed: 0, forbidden: 0, rateLimited: 0, unauthorized: 0 };

  it('starts a default range no earlier than the first storable hour, rather than a 400 naming a `from` the caller never sent', async () => {
    const hourly = await stack.call('GET', `/v1/api-keys/${key.id}/usage?to=0001-01-01T02:00:00Z`);
    expect(answerOf(hourly)).toEqual({
      status: 200,
      type: 'application/json',
      body: {
        keyId: key.id,
        granularity: 'hour',
        data: ['00', '01', '02'].map((hour) => ({ start: `0001-01-01T${hour}:00:00.000Z`, ...idle })),
      },
    });
    const daily = await stack.call('GET', `/v1/api-keys/${key.id}/usage?granularity=day&to=0001-01-02T12:00:00Z`);
    expect(answerOf(daily)).toEqual({
      status: 200,
      type: 'application/json',
      body: { keyId: key.id, granularity: 'day', data: ['01', '02'].map((day) => ({ start: `0001-01-${day}T00:00:00.000Z`, ...idle })) },
    });
  });
});

describe('client address (docs/api.md: usage events and alerts name the client address)', () => {
  let proxied: GatewayHandle;
  let user: { key: string; id: string };

  beforeAll(async () => {
    // This test's requests come from loopback, so they play the trusted proxy that writes X-Forwarded-For.
    proxied = await stack.startGateway({ TRUSTED_PROXIES: 'loopback' });
    user = await stack.createKey({ name: 'behind a proxy', permissions: ['FLOWS:READ'] });
    // Some proxies (Azure's Application Gateway) write the client's port; addresses come in more than one spelling.
    for (const forwarded of ['203.0.113.5', '203.0.113.5', '203.0.113.5:50312', '203.0.113.5:50313', '[2001:db8::1]:443', '2001:DB8:0:0:0:0:0:1', '::ffff:203.0.113.5']) {
      const response = await fetch(`${proxied.url}/v1/flows`, { headers: { authorization: `Bearer ${user.key}`, 'x-forwarded-for': forwarded } });
      if (response.status !== 200) throw new Error(`${forwarded}: ${response.status}`);
    }
    await waitFor('metering to store the proxied requests', async () => (await stack.call('GET', `/v1/api-keys/${user.id}/events`)).body.data?.length === 7, 15_000, 100);
  }, 30_000);

  it('records one address however the proxy writes it: without a port, brackets or IPv4 mapping, IPv6 in one spelling', async () => {
    const events = await stack.call('GET', `/v1/api-keys/${user.id}/events`);
    expect(events.body.data.map((event: { clientIp: string }) => event.clientIp).reverse()).toEqual([
      '203.0.113.5',
      '203.0.113.5',
      '203.0.113.5',
      '203.0.113.5',
      '2001:db8::1',
      '2001:db8::1',
      '203.0.113.5',
    ]);
  });

  it('raises new_source once, for the one address that is new', async () => {
    const alerts = await stack.call('GET', `/v1/alerts?keyId=${user.id}`);
    expect(alerts.body.data.map((alert: { type: string; evidence: { clientIp: string } }) => [alert.type, alert.evidence.clientIp])).toEqual([['new_source', '2001:db8::1']]);
  });
});
