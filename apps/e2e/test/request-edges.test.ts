import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { generateKey } from '@keyplane/key-format';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { rawRequest, type RawAnswer } from './raw-http.js';
import { awayFromHourEnd, RATE_LIMIT_HEADERS, sleep, startStack, type Stack } from './stack.js';

// The gateway edge (DESIGN §4 routes, §5 limit headers, §6 errors) under requests no
// well-behaved client sends: odd paths, methods, Authorization headers, request targets and
// bodies, each answered as the contract (or docs/api.md, or common API practice) says.

let stack: Stack;
let exec: string;
let reader: string;
let all: string;
let flowId: string;

/** A second gateway, on the same auth/keys, in front of an upstream that records what it receives. */
let echo: Server;
let echoGateway: GatewayHandle;
const received: { method: string; url: string }[] = [];

beforeAll(async () => {
  stack = await startStack('e2e_request_edges');
  [exec, reader, all] = await Promise.all(
    [['FLOWS:EXECUTE'], ['FLOWS:READ'], ['*']].map(async (permissions) => (await stack.createKey({ permissions })).key),
  );
  flowId = (await stack.call('POST', '/v1/flows', { key: all, body: { name: 'probe' } })).body.id;

  echo = createServer((request, response) => {
    received.push({ method: request.method!, url: request.url! });
    request.resume();
    // An upstream with rate-limit headers of its own (many APIs have them).
    const own = request.url === '/v1/records/own-limits' ? { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': '1' } : {};
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json', ...own }).end('{"echo":true}'));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoGateway = await stack.startGateway({ UPSTREAM_URL: `http://127.0.0.1:${(echo.address() as AddressInfo).port}`, METERING_TIMEOUT_MS: '500' });
});

afterAll(async () => {
  echo?.closeAllConnections();
  await new Promise((resolve) => echo?.close(resolve));
  await stack?.close();
});

const request = (method: string, path: string, key: string | null, { headers = '', body = '', base = () => stack.gateway.url } = {}) =>
  rawRequest(
    base(),
    `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${key ? `Authorization: Bearer ${key}\r\n` : ''}${headers}${
      body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''
    }\r\n${body}`,
  );

const JSON_CT = 'Content-Type: application/json\r\n';

/** DESIGN §6: `{"error","details"}` as exactly `application/json`. */
function expectErrorShape(answer: RawAnswer, status: number) {
  expect({ status: answer.status, contentType: answer.headers['content-type'] }).toEqual({ status, contentType: 'application/json' });
  const parsed = JSON.parse(answer.body);
  expect(Object.keys(parsed).sort()).toEqual(['details', 'error']);
  expect(typeof parsed.error).toBe('string');
  expect(typeof parsed.details).toBe('string');
  return parsed as { error: string; details: string };
}

function expectUnauthorized(answer: RawAnswer) {
  expect(expectErrorShape(answer, 401)).toEqual({ error: 'Unauthorized', details: 'Invalid or missing API key' });
  expect(answer.headers['www-authenticate']).toBe('Bearer');
}

function expectRateLimitHeaders(answer: RawAnswer) {
  for (const name of RATE_LIMIT_HEADERS) expect({ name, value: answer.headers[name] }).toEqual({ name, value: expect.stringMatching(/^\d+$/) });
}

describe('paths the gateway authorizes vs what the upstream serves (DESIGN §4)', () => {
  it('never forwards a path the upstream reads as another route: a raw "#" in the path', async () => {
    // The gateway matches the raw path `/v1/flows/#/execute` to POST /v1/flows/:id/execute (FLOWS:EXECUTE, id "#"),
    // while the proxy's URL parser drops the "fragment" and sends POST /v1/flows/ — the create route on any upstream
    // that ignores a trailing slash (Express's default). An EXECUTE-only key must not reach a create.
    received.length = 0;
    const base = () => echoGateway.url;
    const answers = [
      await request('POST', '/v1/flows/#/execute', exec, { headers: JSON_CT, body: '{"name":"created by an execute-only key"}', base }),
      await request('POST', '/v1/flows/.#/execute', exec, { headers: JSON_CT, body: '{"name":"created by an execute-only key"}', base }),
      await request('POST', `/v1/flows/${flowId}#/execute`, exec, { headers: JSON_CT, body: '{}', base }),
    ];
    // What the upstream got must be the route that was authorized, or nothing at all.
    expect(received.filter(({ url }) => !/^\/v1\/flows\/[^/]+\/execute$/.test(url))).toEqual([]);
    for (const answer of answers) expect([400, 404]).toContain(answer.status);
  });

  it('with the demo API behind it, a raw "#" reaches another upstream route than the one authorized', async () => {
    const answer = await request('POST', `/v1/flows/${flowId}#/execute`, exec, { headers: JSON_CT, body: '{}' });
    // Authorized as FLOWS:EXECUTE on .../execute; the demo API saw POST /v1/flows/<id>.
    expect(answer.body).not.toContain(`Cannot POST /v1/flows/${flowId}"`);
    // Fixed as a 400 before authentication: a raw "#" cannot appear in a request target (RFC 9112 §3.2).
    expectErrorShape(answer, 400);
    // So does one after a literal path (it was a 404 after authentication); see forwarded-path.test.ts.
    expectErrorShape(await request('GET', '/v1/flows#x', null), 400);
  });

  it.each([
    ['/v1/%66lows', 'an encoded letter'],
    ['/v1/flows%2F..%2Fapi-keys', 'an encoded slash and dot segment'],
    ['/v1/flows/../records', 'a dot segment'],
    ['/v1//flows', 'a double slash'],
    ['/v1/flows/', 'a trailing slash'],
    ['/v1/FLOWS', 'upper case'],
    ['/v1/flows;x=1', 'a matrix parameter'],
  ])('answers %s (%s) with the gateway\'s own 404 after authentication', async (path) => {
    expectUnauthorized(await request('GET', path, null));
    const answer = await request('GET', path, all);
    expect(expectErrorShape(answer, 404)).toEqual({ error: 'Not Found', details: `No route for GET ${path}` });
    expectRateLimitHeaders(answer);
  });

  it('refuses, after authorization, a proxied path holding ".." beside a "/" with a 400 that says so, and forwards an id ending in ".."', async () => {
    const details = 'The request path must not hold ".." beside a "/": it could be read as a parent directory';
    for (const path of ['/v1/flows/..x', '/v1/flows/%2E%2Ex']) {
      const answer = await request('GET', path, reader);
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 400, body: JSON.stringify({ error: 'Bad Request', details }) });
    }
    const execute = await request('POST', '/v1/flows/x../execute', exec, { headers: JSON_CT, body: '{}' });
    expect({ status: execute.status, body: execute.body }).toEqual({ status: 400, body: JSON.stringify({ error: 'Bad Request', details }) });
    const trailing = await request('GET', '/v1/flows/x..', reader);
    expect({ status: trailing.status, body: trailing.body }).toEqual({ status: 404, body: '{"error":"Not Found","details":"Flow x.. not found"}' });
  });

  it('answers a malformed percent-encoding in a /v1 path in the DESIGN §6 shape, with X-Request-Id', async () => {
    // Observed: 400 {"statusCode":400,"code":"FST_ERR_BAD_URL","error":"Bad Request","message":"'/v1/flows/%zz' is not a valid url component"}
    // as application/json; charset=utf-8, no X-Request-Id (docs/api.md: every /v1 answer carries one).
    for (const path of ['/v1/flows/%zz', '/v1/flows/%', '/v1/api-keys/%zz']) {
      for (const key of [null, all]) {
        const answer = await request('GET', path, key);
        expectErrorShape(answer, 400);
        expect(answer.headers['x-request-id']).toBeDefined();
      }
    }
  });

  it('answers a malformed percent-encoding outside /v1 in the DESIGN §6 shape', async () => {
    const answer = await request('GET', '/%zz', null);
    expect(expectErrorShape(answer, answer.status).error).toBeDefined();
  });

  it('answers a long (> 100 character) id in the DESIGN §6 shape, not the upstream framework\'s own error body', async () => {
    const id = 'a'.repeat(101);
    const answer = await request('GET', `/v1/flows/${id}`, reader);
    // Observed: 414 {"statusCode":414,"code":"FST_ERR_MAX_PARAM_LENGTH",...,"message":...} as application/json; charset=utf-8.
    expectErrorShape(answer, answer.status);
    expectRateLimitHeaders(answer);
  });

  it('answers a path over the header limit with a JSON error and the long-but-legal one with a JSON 404', async () => {
    expectErrorShape(await request('GET', `/v1/flows/${'a'.repeat(20_000)}`, all), 431);
    const legal = await request('GET', `/v1/${'a'.repeat(8000)}`, all);
    expectErrorShape(legal, 404);
    expectRateLimitHeaders(legal);
  });

  it('answers non-ASCII bytes and control characters in the path with a JSON 400', async () => {
    expectErrorShape(await request('GET', '/v1/flows/\u00c3\u00a9', all), 400);
    expectErrorShape(await request('GET', '/v1/flows/.\t.', all), 400);
  });

  it('passes percent-encoded ids through decoded once, without walking', async () => {
    for (const [path, details] of [
      ['/v1/flows/a%20b', 'Flow a b not found'],
      ['/v1/flows/a%3Fb', 'Flow a?b not found'],
      ['/v1/flows/a%23b', 'Flow a#b not found'],
      ['/v1/flows/a%5Cb', 'No route for GET /v1/flows/a%5Cb'],
    ] as const) {
      const answer = await request('GET', path, reader);
      expect({ path, ...expectErrorShape(answer, 404) }).toEqual({ path, error: 'Not Found', details });
    }
  });

  it('does not honour X-HTTP-Method-Override (a FLOWS:READ key cannot delete)', async () => {
    await request('GET', `/v1/flows/${flowId}`, reader, { headers: 'X-HTTP-Method-Override: DELETE\r\n' });
    await request('POST', `/v1/flows/${flowId}/execute`, exec, { headers: `${JSON_CT}X-HTTP-Method-Override: DELETE\r\n`, body: '{}' });
    expect((await stack.call('GET', `/v1/flows/${flowId}`, { key: reader })).status).toBe(200);
  });
});

describe('methods on /v1 routes', () => {
  it('answers HEAD on proxied and management routes with the GET status and rate-limit headers, no body', async () => {
    for (const path of ['/v1/flows', '/v1/api-keys']) {
      const answer = await request('HEAD', path, all);
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 200, body: '' });
      expectRateLimitHeaders(answer);
    }
    const unauthenticated = await request('HEAD', '/v1/flows', null);
    expect({ status: unauthenticated.status, www: unauthenticated.headers['www-authenticate'] }).toEqual({ status: 401, www: 'Bearer' });
  });

  it('answers OPTIONS and TRACE with 401 without a key and 405 with Allow after authentication', async () => {
    for (const method of ['OPTIONS', 'TRACE']) {
      expectUnauthorized(await request(method, '/v1/flows', null));
      const answer = await request(method, '/v1/flows', all);
      expect(expectErrorShape(answer, 405)).toEqual({ error: 'Method Not Allowed', details: `${method} is not allowed on /v1/flows` });
      expect(answer.headers.allow).toBe('GET, POST, HEAD');
      expectRateLimitHeaders(answer);
    }
  });

  it.each(['PROPFIND', 'PURGE', 'SEARCH', 'LOCK', 'MKCOL', 'COPY', 'MOVE', 'REPORT'])(
    'authenticates %s on a known /v1 path, then answers 405 with Allow and rate-limit headers',
    async (method) => {
      // docs/api.md: "a known path with another method: 405 with Allow"; DESIGN §4: unknown under /v1 → 404 *after authentication*.
      // Observed: 404 {"details":"Cannot PROPFIND /v1/flows"} for anyone, key or not, no WWW-Authenticate, no rate-limit headers.
      expectUnauthorized(await request(method, '/v1/flows', null));
      const answer = await request(method, '/v1/flows', all);
      expectErrorShape(answer, 405);
      expect(answer.headers.allow).toBe('GET, POST, HEAD');
      expectRateLimitHeaders(answer);
      expect(answer.headers['x-request-id']).toBeDefined();
    },
  );

  it('answers CONNECT on a /v1 path with a JSON error instead of dropping the connection', async () => {
    const answer = await request('CONNECT', '/v1/flows', all);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expectErrorShape(answer, answer.status);
  });

  it('answers a method token the HTTP parser does not know, or lower case, with a JSON 400', async () => {
    expectErrorShape(await request('FOO', '/v1/flows', all), 400);
    expectErrorShape(await request('get', '/v1/flows', all), 400);
  });

  it('serves an absolute-form request target like its origin-form (RFC 9112 §3.2.2)', async () => {
    const answer = await request('GET', `${stack.gateway.url}/v1/flows`, reader);
    expect(answer.status).toBe(200);
  });
});

describe('Authorization header variants (docs/api.md: "Bearer <key>", scheme in any case, one space)', () => {
  const withHeader = (authorization: string) =>
    rawRequest(stack.gateway.url, `GET /v1/flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: ${authorization}\r\n\r\n`);

  it('accepts lower-case bearer and surrounding header whitespace (which HTTP strips)', async () => {
    expect((await withHeader(`bearer ${reader}`)).status).toBe(200);
    expect((await withHeader(`Bearer ${reader}   `)).status).toBe(200);
    expect((await withHeader(`   Bearer ${reader}`)).status).toBe(200);
  });

  it.each([
    ['a tab after the scheme', (k: string) => `Bearer\t${k}`],
    ['two spaces', (k: string) => `Bearer  ${k}`],
    ['Basic with the key as user', (k: string) => `Basic ${Buffer.from(`${k}:`).toString('base64')}`],
    ['a comma-joined second credential', (k: string) => `Bearer ${k}, Bearer ${k}`],
    ['the key in upper-case prefix', (k: string) => `Bearer ${k.replace('tv_', 'TV_')}`],
    ['a well-formed key of another prefix', () => `Bearer ${generateKey({ prefix: 'sk', environment: 'live' }).key}`],
    ['a key with a trailing character', (k: string) => `Bearer ${k}x`],
  ])('answers %s with 401 and WWW-Authenticate: Bearer', async (_case, header) => {
    expectUnauthorized(await withHeader(header(reader)));
  });

  it('never lets a second Authorization header widen the first', async () => {
    const two = (first: string, second: string) =>
      rawRequest(
        stack.gateway.url,
        `POST /v1/flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\n${JSON_CT}Content-Length: 2\r\n\r\n{}`,
      );
    const answer = await two(reader, all);
    expect(answer.status === 403 || answer.status === 400 || answer.status === 401).toBe(true);
    expect((await two('garbage', all)).status).not.toBe(201);
  });

  it('refuses credential-looking query parameters however they are spelled', async () => {
    for (const query of ['API_KEY=x', 'api%5Fkey=x', 'Key=x', 'access_token']) {
      expectUnauthorized(await request('GET', `/v1/flows?${query}`, reader));
    }
  });

  it('answers 401 to an unauthenticated Expect: 100-continue at once, without inviting the body', async () => {
    const answer = await request('POST', '/v1/flows', null, { headers: `${JSON_CT}Expect: 100-continue\r\n`, body: '{"name":"x"}' });
    expect(answer.text.startsWith('HTTP/1.1 401')).toBe(true);
  });

  it('invites the body of an authorized Expect: 100-continue request, then serves it', async () => {
    const body = '{"name":"continued"}';
    const head = `POST /v1/flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${all}\r\n${JSON_CT}Expect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(stack.gateway.url).port), '127.0.0.1', () => socket.write(head));
      let seen = '';
      socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
      socket.on('data', (chunk: Buffer) => {
        // The body goes only once the gateway asks for it, as a client waiting for 100 does.
        if (!seen.includes('100 Continue') && (seen + chunk.toString('latin1')).startsWith('HTTP/1.1 100 Continue')) socket.write(body);
        seen += chunk.toString('latin1');
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(seen));
    });
    expect(text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created')).toBe(true);
    expect(text).toContain('"name":"continued"');
  });
});

describe('errors and headers on every answer to a valid key (DESIGN §5, §6)', () => {
  it('answers a revoked key with 401 "API key has been revoked" and WWW-Authenticate', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: {} })).status).toBe(200);
    const answer = await request('GET', '/v1/flows', key);
    expect(expectErrorShape(answer, 401)).toEqual({ error: 'Unauthorized', details: 'API key has been revoked' });
    expect(answer.headers['www-authenticate']).toBe('Bearer');
  });

  it('answers an expired key with 401 "API key has expired" and WWW-Authenticate', async () => {
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'], expiresAt: new Date(Date.now() + 1500).toISOString() });
    await sleep(2000);
    const answer = await request('GET', '/v1/flows', key);
    expect(expectErrorShape(answer, 401)).toEqual({ error: 'Unauthorized', details: 'API key has expired' });
    expect(answer.headers['www-authenticate']).toBe('Bearer');
  });

  it('answers 429 with Retry-After and the rate-limit headers on every kind of route, in the exact body', async () => {
    await awayFromHourEnd();
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ', 'KEYS:READ'], rateLimits: { hour: 1 } });
    expect((await request('GET', '/v1/flows', key)).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/v1/flows'],
      ['GET', '/v1/nope'],
      ['DELETE', '/v1/analytics'],
      ['POST', '/v1/flows'],
      ['GET', '/v1/api-keys'],
      ['OPTIONS', '/v1/flows'],
    ] as const) {
      const answer = await request(method, path, key, method === 'POST' ? { headers: JSON_CT, body: '{}' } : {});
      expect({ method, path, ...expectErrorShape(answer, 429) }).toEqual({
        method,
        path,
        error: 'Rate limit exceeded',
        details: 'Hourly limit of 1 requests reached',
      });
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expectRateLimitHeaders(answer);
      expect(answer.headers['x-ratelimit-remaining']).toBe('0');
    }
  });

  it('keeps the rate-limit headers on 413, bad JSON, upstream 4xx and management 4xx', async () => {
    const big = `{"name":"${'x'.repeat(1024 * 1024)}"}`;
    const cases: [string, RawAnswer, number][] = [
      ['413 proxied', await request('POST', '/v1/flows', all, { headers: JSON_CT, body: big }), 413],
      ['413 management', await request('POST', '/v1/api-keys', all, { headers: JSON_CT, body: big }), 413],
      ['bad JSON proxied', await request('POST', '/v1/flows', all, { headers: JSON_CT, body: '{"name":' }), 400],
      ['bad JSON management', await request('POST', '/v1/api-keys', all, { headers: JSON_CT, body: '{"name":' }), 400],
      ['no content type proxied', await request('POST', '/v1/flows', all, { body: '{"name":"a"}' }), 415],
      ['upstream 404', await request('GET', '/v1/flows/flow_missing', all), 404],
      ['management 404', await request('GET', '/v1/api-keys/key_01J00000000000000000000000', all), 404],
      ['management 400', await request('GET', '/v1/api-keys?limit=0', all), 400],
    ];
    for (const [name, answer, status] of cases) {
      expect({ name, status: answer.status }).toEqual({ name, status });
      expectErrorShape(answer, status);
      expectRateLimitHeaders(answer);
    }
  });

  it("keeps the gateway's rate-limit headers when the upstream sends its own", async () => {
    const { key } = await stack.createKey({ permissions: ['RECORDS:READ'] });
    const answer = await request('GET', '/v1/records/own-limits', key, { base: () => echoGateway.url });
    expect(answer.status).toBe(200);
    expect({
      limit: answer.headers['x-ratelimit-limit'],
      remaining: answer.headers['x-ratelimit-remaining'],
      hour: answer.headers['x-ratelimit-remaining-hour'],
    }).toEqual({ limit: '1000', remaining: '999', hour: '999' });
  });

  it('answers 503 Metering service unavailable in the exact body, with the rate-limit headers', async () => {
    // No metering runs in this stack; a short METERING_TIMEOUT_MS on the second gateway.
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const answer = await request('GET', `/v1/api-keys/${id}/usage`, all, { base: () => echoGateway.url });
    expect(expectErrorShape(answer, 503)).toEqual({ error: 'Service Unavailable', details: 'Metering service unavailable' });
    expectRateLimitHeaders(answer);
  });
});
