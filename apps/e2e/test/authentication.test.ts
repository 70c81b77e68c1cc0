import { generateKey } from '@keyplane/key-format';
import { awayFromHourEnd, endOfHour, nowSeconds, rateLimitHeaders, startStack, type Answer, type Stack } from './stack.js';

// DESIGN §5 and §6 at the edge: who gets in, what they may do, and the exact answers.

let stack: Stack;
let reader: string;
let writer: string;
let flows: string;
let everything: string;

beforeAll(async () => {
  stack = await startStack('e2e_authn');
  [reader, writer, flows, everything] = await Promise.all(
    [['FLOWS:READ'], ['FLOWS:WRITE'], ['FLOWS:*'], ['*']].map(async (permissions) => (await stack.createKey({ permissions })).key),
  );
});

afterAll(() => stack?.close());

const INVALID = { error: 'Unauthorized', details: 'Invalid or missing API key' };

function expectUnauthorized(answer: Answer, body = INVALID) {
  expect(answer.status).toBe(401);
  expect(answer.body).toEqual(body);
  expect(answer.headers.get('content-type')).toBe('application/json');
  expect(answer.headers.get('www-authenticate')).toBe('Bearer');
  expect(answer.headers.get('x-ratelimit-limit')).toBeNull();
}

const withBadChecksum = (key: string) => key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');

describe('authentication', () => {
  it.each([
    ['no Authorization header', {}],
    ['an empty bearer token', { authorization: 'Bearer ' }],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['the key without a scheme', { authorization: generateKey({ environment: 'live' }).key }],
    ['a malformed key', { authorization: 'Bearer tv_live_abc' }],
    ['a bad checksum', { authorization: `Bearer ${withBadChecksum(generateKey({ environment: 'live' }).key)}` }],
    ['an unknown, well-formed key', { authorization: `Bearer ${generateKey({ environment: 'live' }).key}` }],
    ['a test key nobody issued', { authorization: `Bearer ${generateKey({ environment: 'test' }).key}` }],
  ])('answers %s with 401 Invalid or missing API key', async (_case, headers) => {
    expectUnauthorized(await stack.call('GET', '/v1/flows', { key: null, headers }));
  });

  it('accepts the Bearer scheme in any case', async () => {
    const answer = await stack.call('GET', '/v1/flows', { key: null, headers: { authorization: `bEaReR ${reader}` } });
    expect(answer.status).toBe(200);
  });

  it('never accepts a key from the query string', async () => {
    for (const param of ['api_key', 'key', 'access_token']) {
      expectUnauthorized(await stack.call('GET', `/v1/flows?${param}=${reader}`, { key: null }));
      expectUnauthorized(await stack.call('GET', `/v1/flows?${param}=${reader}`, { key: reader }));
    }
  });

  it('authenticates an unknown /v1 path before answering 404', async () => {
    expectUnauthorized(await stack.call('GET', '/v1/nothing-here', { key: null }));
    const answer = await stack.call('GET', '/v1/nothing-here', { key: reader });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: 'Not Found', details: 'No route for GET /v1/nothing-here' });
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
  });

  it('answers a known path with another method 405, with Allow', async () => {
    const answer = await stack.call('DELETE', '/v1/analytics', { key: everything });
    expect(answer.status).toBe(405);
    expect(answer.body).toEqual({ error: 'Method Not Allowed', details: 'DELETE is not allowed on /v1/analytics' });
    expect(answer.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers paths outside /v1 with 404 without authentication', async () => {
    const answer = await stack.call('GET', '/internal/admin', { key: null });
    expect(answer).toMatchObject({ status: 404, body: { error: 'Not Found', details: 'No route for GET /internal/admin' } });
    expect(answer.headers.get('www-authenticate')).toBeNull();
  });
});

describe('permissions', () => {
  it("answers 403 naming the route's permission", async () => {
    const cases: [string, string, string, string][] = [
      [reader, 'POST', '/v1/flows', 'FLOWS:WRITE'],
      [reader, 'DELETE', '/v1/flows/flow_1', 'FLOWS:WRITE'],
      [reader, 'POST', '/v1/flows/flow_1/execute', 'FLOWS:EXECUTE'],
      // WRITE does not imply READ.
      [writer, 'GET', '/v1/flows', 'FLOWS:READ'],
      [flows, 'GET', '/v1/records', 'RECORDS:READ'],
      [flows, 'GET', '/v1/analytics', 'ANALYTICS:READ'],
      [flows, 'GET', '/v1/api-keys', 'KEYS:READ'],
      [flows, 'POST', '/v1/api-keys', 'KEYS:WRITE'],
      [flows, 'GET', '/v1/audit/events', 'AUDIT:READ'],
    ];
    for (const [key, method, path, permission] of cases) {
      const answer = await stack.call(method, path, { key, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      expect({ method, path, status: answer.status, body: answer.body }).toEqual({
        method,
        path,
        status: 403,
        body: { error: 'Forbidden', details: `Missing required permission: ${permission}` },
      });
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(answer.headers.get('x-ratelimit-remaining')).not.toBeNull();
    }
  });

  it('lets FLOWS:* do everything with flows, and * everything', async () => {
    const created = await stack.call('POST', '/v1/flows', { key: flows, body: { name: 'nightly' } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await stack.call('GET', `/v1/flows/${id}`, { key: flows })).status).toBe(200);
    expect((await stack.call('PATCH', `/v1/flows/${id}`, { key: flows, body: { description: 'x' } })).status).toBe(200);
    expect((await stack.call('POST', `/v1/flows/${id}/execute`, { key: flows, body: {} })).status).toBe(200);
    expect((await stack.call('DELETE', `/v1/flows/${id}`, { key: flows })).status).toBe(200);

    for (const path of ['/v1/flows', '/v1/records', '/v1/prompts', '/v1/analytics', '/v1/api-keys', '/v1/audit/events']) {
      expect({ path, status: (await stack.call('GET', path, { key: everything })).status }).toEqual({ path, status: 200 });
    }
  });
});

describe('rate-limit headers', () => {
  it('are on every answer to a valid key, and every such request counts', async () => {
    await awayFromHourEnd();
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const answers = [
      await stack.call('GET', '/v1/flows', { key }),
      await stack.call('POST', '/v1/flows', { key, body: {} }),
      await stack.call('GET', '/v1/nope', { key }),
      await stack.call('DELETE', '/v1/analytics', { key }),
      await stack.call('GET', '/v1/flows/flow_missing', { key }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 403, 404, 405, 404]);
    const hourEnd = endOfHour();
    answers.forEach((answer, i) => {
      expect(rateLimitHeaders(answer)).toEqual({
        'x-ratelimit-limit': '1000',
        'x-ratelimit-remaining': String(999 - i),
        'x-ratelimit-reset': String(hourEnd),
        'x-ratelimit-limit-hour': '1000',
        'x-ratelimit-remaining-hour': String(999 - i),
        'x-ratelimit-limit-day': '10000',
        'x-ratelimit-remaining-day': String(9999 - i),
      });
      expect(answer.headers.get('ratelimit-policy')).toBe('"hour";q=1000;w=3600, "day";q=10000;w=86400');
      const [, remaining, reset] = /^"hour";r=(\d+);t=(\d+)$/.exec(answer.headers.get('ratelimit') ?? '') ?? [];
      expect(Number(remaining)).toBe(999 - i);
      expect(Math.abs(Number(reset) - (hourEnd - nowSeconds()))).toBeLessThanOrEqual(2);
    });
  });
});
