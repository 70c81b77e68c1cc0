import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { rawRequest, type RawAnswer } from './raw-http.js';
import { awayFromHourEnd, RATE_LIMIT_HEADERS, startStack, type Stack } from './stack.js';

// The per-request edge (DESIGN §3–§6, docs/api.md) under requests the other edge tests do not
// send: headers a CGI-style upstream would misread, keys in any query parameter, requests
// Node itself used to answer without a body, and bodies the demo API must not take.

let stack: Stack;
let all: string;

/** A second gateway in front of an upstream that answers with the headers it received. */
let echo: Server;
let echoGateway: GatewayHandle;

beforeAll(async () => {
  stack = await startStack('e2e_edge_contract');
  all = (await stack.createKey({ permissions: ['*'] })).key;
  echo = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ headers: request.headers })));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoGateway = await stack.startGateway({ UPSTREAM_URL: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` });
});

afterAll(async () => {
  echo?.closeAllConnections();
  await new Promise((resolve) => echo?.close(resolve));
  await stack?.close();
});

/** One request as written, `head` holding any header lines (each ending in CRLF) after the request line. */
const send = (method: string, target: string, head: string, { body = '', base = () => stack.gateway.url } = {}) =>
  rawRequest(base(), `${method} ${target} HTTP/1.1\r\n${head}Connection: close\r\n${body ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`);

const HOST = 'Host: x\r\n';
const bearer = (key: string) => `Authorization: Bearer ${key}\r\n`;

function expectError(answer: RawAnswer, status: number, error: string, details: string) {
  expect({ status: answer.status, contentType: answer.headers['content-type'], body: answer.body }).toEqual({
    status,
    contentType: 'application/json',
    body: JSON.stringify({ error, details }),
  });
}

const expectUnauthorized = (answer: RawAnswer) => {
  expectError(answer, 401, 'Unauthorized', 'Invalid or missing API key');
  expect(answer.headers['www-authenticate']).toBe('Bearer');
};

const rateLimitHeadersOf = (answer: RawAnswer) => Object.fromEntries(RATE_LIMIT_HEADERS.map((name) => [name, answer.headers[name] ?? null]));

describe('identity headers to the upstream (docs/api.md: no client-sent X-Keyplane-* header reaches it)', () => {
  it('drops a header that CGI-style servers read as one the gateway sets (X_Keyplane_Account_Id, X_Request_Id)', async () => {
    // Observed: the upstream received x_keyplane_account_id: acc_evil beside x-keyplane-account-id: acc_root; Rack, PHP
    // and WSGI servers read both as HTTP_X_KEYPLANE_ACCOUNT_ID, and some took the client's (Puma's CVE-2024-45614).
    const spoofs =
      'X_Keyplane_Account_Id: acc_evil\r\nX-Keyplane_Environment: test\r\nx_keyplane_key_id: key_01J00000000000000000000000\r\n' +
      'X_Request_Id: spoofed\r\nX_Forwarded_For: 198.51.100.1\r\nX_Custom: kept\r\n';
    const answer = await send('GET', '/v1/records', `${HOST}${bearer(all)}X-Request-Id: mine\r\n${spoofs}`, { base: () => echoGateway.url });
    expect(answer.status).toBe(200);
    const received = (JSON.parse(answer.body) as { headers: IncomingHttpHeaders }).headers;
    const asCgi = (name: string) => name.toLowerCase().replaceAll('_', '-');
    const identity = Object.entries(received).filter(([name]) => ['x-keyplane-', 'x-request-id', 'x-forwarded-for'].some((p) => asCgi(name).startsWith(p)));
    expect(Object.fromEntries(identity)).toEqual({
      'x-keyplane-key-id': expect.stringMatching(/^key_/),
      'x-keyplane-account-id': 'acc_root',
      'x-keyplane-environment': 'live',
      'x-request-id': 'mine',
      'x-forwarded-for': '127.0.0.1',
    });
    expect(received.x_custom).toBe('kept');
  });
});

describe('a key in the query string (docs/api.md: refused with 401 even when the header is valid)', () => {
  it('refuses a well-formed key under any parameter name, before the key is read, and counts nothing', async () => {
    await awayFromHourEnd();
    // Observed: ?apiKey=<key>, ?token=<key> and ?api_key[]=<key> were served 200, the key left in every access log.
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    for (const query of [`apiKey=${key}`, `token=${key}`, `api_key[]=${key}`, `q=1&${key}`, `x-api-key=${encodeURIComponent(key)}`]) {
      const answer = await send('GET', `/v1/flows?${query}`, `${HOST}${bearer(key)}`);
      expectUnauthorized(answer);
      expect(answer.headers['x-ratelimit-limit']).toBeUndefined();
    }
    // A parameter that only looks like a key (its checksum fails) is no credential; and none of the refusals counted.
    const served = await send('GET', '/v1/flows?token=tv_live_000000000000000000000000000000004XD7Nf', `${HOST}${bearer(key)}`);
    expect({ status: served.status, remaining: served.headers['x-ratelimit-remaining-hour'] }).toEqual({ status: 200, remaining: '999' });
  });
});

describe('answers Node used to send itself, without a body (DESIGN §6: every error is JSON)', () => {
  it('answers an HTTP/1.1 request without Host with a JSON 400 and X-Request-Id, before authentication', async () => {
    // Observed: 400 with an empty chunked body, no Content-Type, no X-Request-Id, on every path.
    for (const [target, head] of [
      ['/v1/flows', bearer(all)],
      ['/v1/flows', ''],
      ['/healthz', ''],
      ['/v1/flows#x', ''],
    ] as const) {
      const answer = await send('GET', target, `${head}X-Request-Id: no-host\r\n`);
      expectError(answer, 400, 'Bad Request', 'An HTTP/1.1 request must have a Host header');
      expect({ target, requestId: answer.headers['x-request-id'], connection: answer.headers.connection, limit: answer.headers['x-ratelimit-limit'] }).toEqual({
        target,
        requestId: 'no-host',
        connection: 'close',
        limit: undefined,
      });
    }
    // HTTP/1.0 has no Host requirement.
    expect((await rawRequest(stack.gateway.url, `GET /v1/flows HTTP/1.0\r\n${bearer(all)}\r\n`)).status).toBe(200);
  });

  it('answers an Expect other than 100-continue with a JSON 417 and X-Request-Id, before authentication', async () => {
    // Observed: 417 with an empty chunked body and no Content-Type (Node's own answer).
    for (const head of [`${HOST}${bearer(all)}`, HOST]) {
      const answer = await send('POST', '/v1/flows', `${head}Expect: something-else\r\nX-Request-Id: expect-1\r\nContent-Type: application/json\r\n`, { body: '{"name":"x"}' });
      expectError(answer, 417, 'Expectation Failed', 'The only expectation supported is Expect: 100-continue');
      expect({ requestId: answer.headers['x-request-id'], connection: answer.headers.connection }).toEqual({ requestId: 'expect-1', connection: 'close' });
    }
    expect((await send('GET', '/v1/flows', `${HOST}${bearer(all)}`)).body).toBe('{"data":[]}');
  });
});

describe('request bodies', () => {
  it('answers a Content-Type that is no media type with a 415 that says what is wrong, after authentication', async () => {
    // Observed: {"error":"Unsupported Media Type","details":"Unsupported Media Type"}.
    const details = 'Content-Type is not a valid media type (type/subtype, e.g. application/json)';
    for (const contentType of ['json', '', 'application/json, text/plain']) {
      expectUnauthorized(await send('POST', '/v1/flows', `${HOST}Content-Type: ${contentType}\r\n`, { body: '{"name":"x"}' }));
      for (const path of ['/v1/flows', '/v1/api-keys']) {
        const answer = await send('POST', path, `${HOST}${bearer(all)}Content-Type: ${contentType}\r\n`, { body: '{"name":"x"}' });
        expectError(answer, 415, 'Unsupported Media Type', details);
        expect(rateLimitHeadersOf(answer)).toEqual(Object.fromEntries(RATE_LIMIT_HEADERS.map((name) => [name, expect.stringMatching(/^\d+$/)])));
      }
    }
  });

  it('the demo API takes JSON bodies only: a form or text/plain body is a 415 and creates nothing', async () => {
    // Observed: a form body `name=a` created a flow (201), and JSON sent as text/plain was a 400
    // "Invalid input: expected object, received string", while other types were this 415.
    const { key } = await stack.createKey({ environment: 'test', permissions: ['FLOWS:*', 'RECORDS:*', 'ANALYTICS:READ'] });
    const flow = JSON.parse((await send('POST', '/v1/flows', `${HOST}${bearer(key)}Content-Type: application/json\r\n`, { body: '{"name":"f"}' })).body) as { id: string };
    for (const [method, path, contentType, body] of [
      ['POST', '/v1/flows', 'application/x-www-form-urlencoded', 'name=a'],
      ['POST', '/v1/records', 'application/x-www-form-urlencoded', 'name=a&data=b'],
      ['POST', '/v1/flows', 'text/plain', '{"name":"a"}'],
      ['PUT', `/v1/flows/${flow.id}`, 'text/plain; charset=utf-8', '{"name":"a"}'],
      ['PATCH', `/v1/flows/${flow.id}`, 'application/x-www-form-urlencoded', 'name=a'],
      ['POST', `/v1/flows/${flow.id}/execute`, 'text/plain', '{}'],
    ] as const) {
      const answer = await send(method, path, `${HOST}${bearer(key)}Content-Type: ${contentType}\r\n`, { body });
      expect({ method, path, contentType, status: answer.status, body: answer.body }).toEqual({
        method,
        path,
        contentType,
        status: 415,
        body: '{"error":"Unsupported Media Type","details":"Content-Type must be application/json"}',
      });
    }
    const analytics = JSON.parse((await send('GET', '/v1/analytics', `${HOST}${bearer(key)}`)).body);
    expect({ flows: analytics.flows, flowRuns: analytics.flowRuns, records: analytics.records }).toEqual({ flows: 1, flowRuns: 0, records: 0 });
    expect(JSON.parse((await send('GET', `/v1/flows/${flow.id}`, `${HOST}${bearer(key)}`)).body).name).toBe('f');
  });
  it('refuses a JSON body that is not UTF-8 with a 400 that says so, on proxied and management routes, storing nothing', async () => {
    // Observed: both 201, the bytes stored as U+FFFD ("name":"a\ufffd\ufffd"): JSON is UTF-8 (RFC 8259 §8.1).
    const { key } = await stack.createKey({ environment: 'test', permissions: ['FLOWS:*', 'ANALYTICS:READ'] });
    const latin1 = (json: string) => Buffer.from(json, 'latin1');
    const post = async (path: string, as: string, body: Buffer) => {
      const response = await fetch(`${stack.gateway.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json' },
        body,
      });
      return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
    };
    const flows = async () => JSON.parse((await send('GET', '/v1/analytics', `${HOST}${bearer(key)}`)).body).flows as number;
    const before = await flows();
    const notUtf8 = { status: 400, contentType: 'application/json', body: '{"error":"Bad Request","details":"Request body is not valid UTF-8"}' };
    expect(await post('/v1/flows', key, latin1('{"name":"caf\u00e9"}'))).toEqual(notUtf8);
    expect(await post('/v1/flows/flow_x/execute', key, latin1('{"input":{"a":"\u00ff"}}'))).toEqual(notUtf8);
    expect(await post('/v1/api-keys', all, latin1('{"name":"caf\u00e9","permissions":["FLOWS:READ"]}'))).toEqual(notUtf8);
    expect(await flows()).toBe(before);
    // The same text in UTF-8 is taken, byte for byte.
    const created = await post('/v1/flows', key, Buffer.from('{"name":"caf\u00e9"}', 'utf8'));
    expect({ status: created.status, name: JSON.parse(created.body).name }).toEqual({ status: 201, name: 'caf\u00e9' });
  });
});
