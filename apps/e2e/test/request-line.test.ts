import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawRequest } from './raw-http.js';
import { startStack, type Stack } from './stack.js';

// The request line, as a client may write it and no URL library would: the upstream receives
// exactly the path the gateway matched and authorized, or the request is refused with a 400;
// every method Node accepts is authenticated, and CONNECT is answered.

let stack: Stack;
let echo: Server;
/** What the upstream received, in order. */
const received: string[] = [];
let exec: string;
let all: string;

beforeAll(async () => {
  echo = createServer((request, response) => {
    received.push(`${request.method} ${request.url}`);
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json', 'content-length': '13' }).end('{"echo":true}'));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  stack = await startStack('e2e_request_line', { upstreamUrl: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` });
  [exec, all] = await Promise.all([['FLOWS:EXECUTE'], ['*']].map(async (permissions) => (await stack.createKey({ permissions })).key));
});

afterAll(async () => {
  await stack?.close();
  echo?.closeAllConnections();
  await new Promise((resolve) => echo?.close(resolve));
});

beforeEach(() => {
  received.length = 0;
});

interface JsonAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Writes the request line as given (fetch would normalize it) and reads the answer. */
async function send(method: string, target: string, key: string | null): Promise<JsonAnswer> {
  const request = `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${key ? `Authorization: Bearer ${key}\r\n` : ''}Content-Length: 2\r\n\r\n{}`;
  const { status, headers, body } = await rawRequest(stack.gateway.url, request);
  return { status, headers, body: body === '' ? '' : JSON.parse(body) };
}

/** A 400 answered before authentication: no 401, no rate-limit headers, so auth was never asked. */
const badRequest = (details: string) => ({
  status: 400,
  type: 'application/json',
  body: { error: 'Bad Request', details },
  requestId: expect.stringMatching(/^req_/),
  authenticate: undefined,
  rateLimit: undefined,
});
const refused = (char: string, encoded: string) => badRequest(`The request target must not contain a raw ${char} (percent-encode it as ${encoded})`);

const summary = ({ status, headers, body }: JsonAnswer) => ({
  status,
  type: headers['content-type'],
  body,
  requestId: headers['x-request-id'],
  authenticate: headers['www-authenticate'],
  rateLimit: headers['x-ratelimit-limit'],
});

describe('the request target', () => {
  it.each([
    ['POST', '/v1/flows/#/execute'],
    ['POST', '/v1/flows/.#/execute'],
    ['POST', '/v1/flows/flow_1#/execute'],
    ['GET', '/v1/flows#x'],
    ['GET', '/v1/flows?limit=1#/../api-keys'],
    ['GET', '/healthz#x'],
    ['GET', '/#'],
  ])('refuses a raw "#" in %s %s with 400 before authentication, forwarding nothing', async (method, target) => {
    for (const key of [null, exec]) expect(summary(await send(method, target, key))).toEqual(refused('#', '%23'));
    expect(received).toEqual([]);
  });

  it.each([
    ['/v1/flows/a\\..\\..\\api-keys', '\\', '%5C'],
    ['/v1/records/a"b', '"', '%22'],
    ['/v1/records/a<b>', '<', '%3C'],
    ['/v1/records/a`b', '`', '%60'],
    ['/v1/records/{id}', '{', '%7B'],
    ['/v1/records/a}', '}', '%7D'],
  ])('refuses %s, which a URL parser would rewrite, with 400 before authentication', async (target, char, encoded) => {
    expect(summary(await send('GET', target, all))).toEqual(refused(char, encoded));
    expect(received).toEqual([]);
  });

  it.each([
    ['POST', '/v1/flows/%2e%2e/execute'],
    ['POST', '/v1/flows/.%2E/execute'],
    ['POST', '/v1/flows/%2E/execute'],
    ['GET', '/v1/records/%2e%2E'],
    ['GET', '/v1/records/.'],
  ])('matches a dot segment in %s %s to no route: 404 after authentication, nothing forwarded', async (method, target) => {
    const answer = await send(method, target, all);
    expect({ status: answer.status, body: answer.body, rateLimit: answer.headers['x-ratelimit-limit'] }).toEqual({
      status: 404,
      body: { error: 'Not Found', details: `No route for ${method} ${target}` },
      rateLimit: '1000',
    });
    expect(received).toEqual([]);
  });

  it('forwards what it lets through exactly as it was written', async () => {
    const targets = [
      ['POST', '/v1/flows/a%20b/execute'],
      ['POST', '/v1/flows/%23/execute'],
      ['GET', '/v1/records/a|b^c;d~e'],
      ['GET', '/v1/records/a%3Fb?q={"a":"b\\c"}&r=a|b'],
    ] as const;
    for (const [method, target] of targets) expect((await send(method, target, all)).status).toBe(200);
    expect(received).toEqual(targets.map(([method, target]) => `${method} ${target}`));
  });

  it('answers a malformed percent-encoding with a JSON 400 and X-Request-Id, with or without a key', async () => {
    for (const target of ['/v1/flows/%zz', '/v1/flows/%', '/%zz']) {
      for (const key of [null, all]) {
        expect({ target, ...summary(await send('GET', target, key)) }).toEqual({ target, ...badRequest('The request path holds a malformed percent-encoding') });
      }
    }
  });
});

describe('the method', () => {
  it.each(['PROPFIND', 'PURGE', 'M-SEARCH', 'UNLOCK', 'REPORT'])('authenticates %s on /v1, then answers 405 with Allow on a known path and 404 elsewhere', async (method) => {
    expect(summary(await send(method, '/v1/flows', null))).toMatchObject({ status: 401, authenticate: 'Bearer' });
    const known = await send(method, '/v1/flows', all);
    expect({ status: known.status, allow: known.headers.allow, body: known.body, rateLimit: known.headers['x-ratelimit-limit'] }).toEqual({
      status: 405,
      allow: 'GET, POST, HEAD',
      body: { error: 'Method Not Allowed', details: `${method} is not allowed on /v1/flows` },
      rateLimit: '1000',
    });
    const unknown = await send(method, '/v1/nothing', all);
    expect({ status: unknown.status, body: unknown.body }).toEqual({ status: 404, body: { error: 'Not Found', details: `No route for ${method} /v1/nothing` } });
    expect(summary(await send(method, '/admin', null))).toMatchObject({ status: 404, body: { error: 'Not Found', details: `No route for ${method} /admin` } });
    expect(received).toEqual([]);
  });

  it('answers CONNECT with a JSON 400 and closes, instead of dropping the connection', async () => {
    for (const target of ['/v1/flows', 'example.com:443']) {
      expect(summary(await send('CONNECT', target, all))).toEqual(badRequest('CONNECT is not supported: the gateway is not a forward proxy'));
    }
  });
});
