import { waitFor } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { startStack, type Stack } from './stack.js';

// What a client reads from the gateway's edges of negotiation: which of JSON and NDJSON an
// `Accept` header gets on the usage events listing, a time range finer than the millisecond
// every stored time has, and the client address behind proxies that write ports into
// X-Forwarded-For (docs/api.md, apps/gateway/README.md).

let stack: Stack;
let key: { key: string; id: string };
let eventsPath: string;

beforeAll(async () => {
  stack = await startStack('e2e_negotiation', { metering: {} });
  key = await stack.createKey({ name: 'negotiated', permissions: ['FLOWS:READ'] });
  eventsPath = `/v1/api-keys/${key.id}/events`;
  for (let i = 0; i < 2; i++) await stack.call('GET', '/v1/flows', { key: key.key });
  await waitFor('metering to store the two events', async () => (await stack.call('GET', eventsPath)).body.data?.length === 2, 15_000, 100);
}, 60_000);

afterAll(() => stack?.close());

/** The listing as a client receives it: status, media type, and the body as text. */
async function listing(path: string, accept?: string): Promise<{ status: number; type: string | null; text: string }> {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    headers: { authorization: `Bearer ${stack.adminKey}`, ...(accept === undefined ? {} : { accept }) },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('Accept on GET /v1/api-keys/:id/events (docs/api.md: JSON or NDJSON by the client’s weights)', () => {
  let page: string;
  let lines: string;

  beforeAll(async () => {
    const json = await listing(eventsPath);
    page = json.text;
    lines = (JSON.parse(page) as { data: unknown[] }).data.map((event) => `${JSON.stringify(event)}\n`).join('');
  });

  it.each([
    ['application/x-ndjson;q=0.5, application/json'],
    ['application/json, application/x-ndjson;q=0.5'],
    ['application/json, application/x-ndjson'],
    ['application/x-ndjson;q=0, */*'],
    ['*/*'],
    ['text/html'],
    ['application/json;q=0, application/x-ndjson;q=0'],
  ])('answers %j with the JSON page', async (accept) => {
    expect(await listing(eventsPath, accept)).toEqual({ status: 200, type: 'application/json', text: page });
  });

  it.each([
    ['application/x-ndjson'],
    ['Application/X-NDJSON; charset=utf-8'],
    ['application/json;q=0.5, application/x-ndjson'],
    ['application/x-ndjson, application/json'],
    ['*/*;q=0.1, application/x-ndjson'],
    ['*/*, application/json;q=0'],
  ])('answers %j with every event as NDJSON', async (accept) => {
    expect(await listing(eventsPath, accept)).toEqual({ status: 200, type: 'application/x-ndjson', text: lines });
  });
});

describe('a range finer than a millisecond (docs/api.md: read to the nanosecond, stored times are whole milliseconds)', () => {
  let event: { eventId: string; occurredAt: string };
  /** The event's time, and the millisecond before it, as text to append finer digits to (`…27.345`). */
  let at: string;
  let before: string;
  const range = (from: string, to: string) => `${eventsPath}?from=${from}&to=${to}`;
  const emptyPage = JSON.stringify({ data: [], nextCursor: null });

  beforeAll(async () => {
    event = (await stack.call('GET', `${eventsPath}?limit=1`)).body.data[0];
    at = event.occurredAt.slice(0, -1);
    before = new Date(Date.parse(event.occurredAt) - 1).toISOString().slice(0, -1);
  });

  it('answers a range inside one millisecond with an empty page, as JSON and as NDJSON', async () => {
    expect(await listing(range(`${before}5Z`, `${before}9Z`))).toEqual({ status: 200, type: 'application/json', text: emptyPage });
    expect(await listing(range(`${before}5Z`, `${before}9Z`), 'application/x-ndjson')).toEqual({ status: 200, type: 'application/x-ndjson', text: '' });
    expect(await listing(range('2026-11-27T10:00:00.0005Z', '2026-11-27T10:00:00.0009Z'))).toEqual({ status: 200, type: 'application/json', text: emptyPage });
  });

  it('leaves out an event just before `from` and takes one just before `to`', async () => {
    expect(await listing(range(`${at}0001Z`, `${at}9Z`))).toEqual({ status: 200, type: 'application/json', text: emptyPage });
    const around = await stack.call('GET', range(`${before}5Z`, `${at}0001Z`));
    expect(around.status).toBe(200);
    expect(around.body.data.map((found: { eventId: string }) => found.eventId)).toContain(event.eventId);
    expect(around.body.data.every((found: { occurredAt: string }) => found.occurredAt === event.occurredAt)).toBe(true);
  });

  it('still refuses a range that runs backwards inside one millisecond, naming `from`', async () => {
    expect(await listing(range(`${before}9Z`, `${before}5Z`))).toEqual({
      status: 400,
      type: 'application/json',
      text: JSON.stringify({ error: 'Bad Request', details: 'from: must not be after to' }),
    });
  });

  it('refuses an audit range that runs backwards inside one millisecond too, where rounding both ends up made it an empty page', async () => {
    expect(await listing('/v1/audit/events?from=2026-11-27T10:00:00.0009Z&to=2026-11-27T10:00:00.0005Z')).toEqual({
      status: 400,
      type: 'application/json',
      text: JSON.stringify({ error: 'Bad Request', details: 'from: must not be after to' }),
    });
    const inside = await listing('/v1/audit/events?from=2026-11-27T10:00:00.0005Z&to=2026-11-27T10:00:00.0009Z');
    expect(inside).toEqual({ status: 200, type: 'application/json', text: JSON.stringify({ data: [], nextCursor: null }) });
  });

  it('answers usage over a range inside one millisecond with the window it lies in', async () => {
    const usage = await stack.call('GET', `/v1/api-keys/${key.id}/usage?from=2026-01-01T10:59:59.9995Z&to=2026-01-01T10:59:59.9999Z`);
    expect({ status: usage.status, body: usage.body }).toEqual({
      status: 200,
      body: { keyId: key.id, granularity: 'hour', data: [{ start: '2026-01-01T10:00:00.000Z', requests: 0, allowed: 0, forbidden: 0, rateLimited: 0, unauthorized: 0 }] },
    });
  });
});

describe('X-Forwarded-For entries with a port (apps/gateway/README.md: client address)', () => {
  let proxied: GatewayHandle;
  let user: { key: string; id: string };
  // This test's requests come from loopback: it plays the nearest trusted proxy.
  const chains = [
    '203.0.113.9, 10.0.0.5:1234',
    '198.51.100.7, [2001:db8::1]:443',
    '192.0.2.1, 203.0.113.10:5555, 10.0.0.7:80',
    '198.51.100.8, garbage',
    '198.51.100.9, unknown, 10.0.0.6',
  ];

  beforeAll(async () => {
    proxied = await stack.startGateway({ TRUSTED_PROXIES: 'loopback,10.0.0.0/8,2001:db8::/32' });
    user = await stack.createKey({ name: 'behind proxies', permissions: ['FLOWS:READ'] });
    for (const chain of chains) {
      const response = await fetch(`${proxied.url}/v1/flows`, { headers: { authorization: `Bearer ${user.key}`, 'x-forwarded-for': chain } });
      if (response.status !== 200) throw new Error(`${chain}: ${response.status}`);
    }
    await waitFor('metering to store the proxied requests', async () => (await stack.call('GET', `/v1/api-keys/${user.id}/events`)).body.data?.length === chains.length, 15_000, 100);
  }, 30_000);

  it('reads a trusted proxy’s entry with a port as its address and walks on to the client; an entry that is no address stops at the proxy that wrote it', async () => {
    const events = await stack.call('GET', `/v1/api-keys/${user.id}/events`);
    expect(events.body.data.map((event: { clientIp: string }) => event.clientIp).reverse()).toEqual([
      '203.0.113.9',
      '198.51.100.7',
      '203.0.113.10',
      '127.0.0.1',
      '10.0.0.6',
    ]);
  });
});
