import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawRequest } from './raw-http.js';
import { startStack, type Stack } from './stack.js';

// What crosses the gateway in headers, seen by a tiny upstream that echoes its request.

let stack: Stack;
let echo: Server;
let echoUrl: string;
let key: string;
let keyId: string;

const UPSTREAM_TIMEOUT_MS = 1000;
/** What the echo answers to `GET /v1/records/big`, streamed in chunks. */
const BIG = JSON.stringify({ data: 'x'.repeat(3 * 1024 * 1024) });

beforeAll(async () => {
  echo = createServer((request, response) => {
    // Never answered: the gateway's upstream timeout must give up on it.
    if (request.url === '/v1/records/slow') return;
    if (request.url === '/v1/records/big') {
      response.writeHead(200, { 'content-type': 'application/json' });
      for (let at = 0; at < BIG.length; at += 64 * 1024) response.write(BIG.slice(at, at + 64 * 1024));
      return void response.end();
    }
    // An upstream out of capacity, with rate-limit headers of its own.
    if (request.url === '/v1/records/limited') {
      const own = { 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0', ratelimit: '"upstream";r=0;t=7', 'ratelimit-policy': '"upstream";q=10;w=60' };
      return void response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '7', ...own }).end('{"error":"Service Unavailable","details":"busy"}');
    }
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      response
        .writeHead(200, {
          'content-type': 'application/json',
          connection: 'close, x-upstream-hop',
          'x-upstream-hop': 'for the gateway only',
          'x-upstream': 'echo',
          'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
        })
        .end(JSON.stringify({ method: request.method, url: request.url, headers: request.headers, body }));
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  stack = await startStack('e2e_edge', { upstreamUrl: echoUrl, gatewayEnv: { UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS) } });
  ({ key, id: keyId } = await stack.createKey({ environment: 'test', permissions: ['RECORDS:*'] }));
});

afterAll(async () => {
  await stack?.close();
  echo?.closeAllConnections();
  await new Promise((resolve) => echo?.close(resolve));
});

describe('headers at the edge', () => {
  it('forwards the decided identity, never the credential or spoofed X-Keyplane-* headers', async () => {
    const answer = await stack.call('POST', '/v1/records?page=2', {
      key,
      body: { name: 'r' },
      headers: {
        'X-Keyplane-Environment': 'live',
        'X-KEYPLANE-ACCOUNT-ID': 'acc_root',
        'x-keyplane-key-id': 'key_01J00000000000000000000000',
        'x-keyplane-permissions': '*',
        'x-custom': 'kept',
        'x-forwarded-for': '198.51.100.9',
      },
    });
    expect(answer.status).toBe(200);
    const seen = answer.body as { method: string; url: string; headers: Record<string, string>; body: string };
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/v1/records?page=2');
    expect(seen.body).toBe('{"name":"r"}');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-custom']).toBe('kept');
    // The client's own chain is kept for the upstream to judge; the gateway adds its peer.
    expect(seen.headers['x-forwarded-for']).toBe('198.51.100.9, 127.0.0.1');
    expect(Object.entries(seen.headers).filter(([name]) => name.startsWith('x-keyplane-'))).toEqual(
      expect.arrayContaining([
        ['x-keyplane-key-id', keyId],
        ['x-keyplane-account-id', 'acc_root'],
        ['x-keyplane-environment', 'test'],
      ]),
    );
    expect(Object.keys(seen.headers).filter((name) => name.startsWith('x-keyplane-'))).toHaveLength(3);
    expect(JSON.stringify(seen)).not.toContain(key);
  });

  it("passes the upstream's answer through with the rate-limit headers, minus its connection headers", async () => {
    const answer = await stack.call('GET', '/v1/records', { key });
    expect(answer.headers.get('x-upstream')).toBe('echo');
    expect(answer.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
    expect(answer.headers.get('connection')).toBe('keep-alive');
    expect(answer.headers.get('x-upstream-hop')).toBeNull();
  });

  it("answers with the key's rate-limit headers, never the upstream's, and keeps the upstream's Retry-After", async () => {
    const answer = await stack.call('GET', '/v1/records/limited', { key });
    expect(answer.status).toBe(503);
    expect({
      limit: answer.headers.get('x-ratelimit-limit'),
      hour: answer.headers.get('x-ratelimit-limit-hour'),
      policy: answer.headers.get('ratelimit-policy'),
      ratelimit: answer.headers.get('ratelimit'),
      retryAfter: answer.headers.get('retry-after'),
    }).toEqual({
      limit: '1000',
      hour: '1000',
      policy: '"hour";q=1000;w=3600, "day";q=10000;w=86400',
      ratelimit: expect.stringMatching(/^"hour";r=\d+;t=\d+$/),
      retryAfter: '7',
    });
  });

  it('does not forward the headers a client names in Connection, nor the hop-by-hop ones', async () => {
    // fetch refuses to send Connection and TE; node:http sends what it is given.
    const seen = await new Promise<Record<string, string>>((resolve, reject) => {
      const sent = request(
        `${stack.gateway.url}/v1/records`,
        { headers: { authorization: `Bearer ${key}`, connection: 'keep-alive, X-Drop-Me', 'x-drop-me': '1', te: 'trailers', 'x-keep': '2' } },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve(JSON.parse(text).headers));
        },
      );
      sent.on('error', reject).end();
    });
    expect(seen['x-keep']).toBe('2');
    expect(seen['x-drop-me']).toBeUndefined();
    expect(seen.te).toBeUndefined();
  });

  it('streams a large answer through whole', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/records/big`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(BIG);
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const started = Date.now();
    const answer = await stack.call('GET', '/v1/records/slow', { key });
    expect(Date.now() - started).toBeGreaterThanOrEqual(UPSTREAM_TIMEOUT_MS - 50);
    expect(answer.status).toBe(504);
    expect(answer.body).toEqual({ error: 'Gateway Timeout', details: 'Upstream did not answer in time' });
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
  });

  it("forwards under UPSTREAM_URL's path when it has one", async () => {
    const prefixed = await stack.startGateway({ UPSTREAM_URL: `${echoUrl}/api/` });
    const response = await fetch(`${prefixed.url}/v1/records?page=3`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { url: string }).url).toBe('/api/v1/records?page=3');
  });

  it('echoes a sane X-Request-Id and forwards it; replaces anything else', async () => {
    const kept = await stack.call('GET', '/v1/records', { key, headers: { 'x-request-id': 'trace-123' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-123');
    expect(kept.body.headers['x-request-id']).toBe('trace-123');

    const replaced = await stack.call('GET', '/v1/records', { key, headers: { 'x-request-id': 'x'.repeat(200) } });
    const generated = replaced.headers.get('x-request-id');
    expect(generated).toMatch(/^req_[0-9a-f-]{36}$/);
    expect(replaced.body.headers['x-request-id']).toBe(generated);

    const refused = await stack.call('GET', '/v1/records', { key: null, headers: { 'x-request-id': 'trace-401' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('trace-401');
  });

  it('answers oversized headers with a JSON 431 and malformed requests with a JSON 400', async () => {
    expect(await raw(stack.gateway.url, `GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toEqual({
      status: 431,
      contentType: 'application/json',
      body: { error: 'Request Header Fields Too Large', details: 'Request headers are too large' },
    });
    expect(await raw(stack.gateway.url, 'GET /v1/records HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n')).toEqual({
      status: 400,
      contentType: 'application/json',
      body: { error: 'Bad Request', details: 'Malformed HTTP request' },
    });
    expect((await stack.call('GET', '/healthz', { key: null })).status).toBe(200);
  });

  it('treats a path that walks out of its route as unknown', async () => {
    // A raw backslash is refused before this, with a 400 (request-line.test.ts).
    for (const path of ['/v1/records/%2e%2e/api-keys', '/v1/records/..', '/v1/records/%2E.', '/v1/records/a%5c..']) {
      const answer = await raw(stack.gateway.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`);
      expect({ path, ...answer }).toEqual({
        path,
        status: 404,
        contentType: 'application/json',
        body: { error: 'Not Found', details: `No route for GET ${path}` },
      });
    }
  });

  it('serves HEAD like GET', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/records`, { method: 'HEAD', headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-ratelimit-limit')).toBe('1000');
  });
});

/** The status, content type and JSON body of an answer to bytes no HTTP client would send. */
async function raw(base: string, request: string) {
  const { status, headers, body } = await rawRequest(base, request);
  return { status, contentType: headers['content-type'], body: JSON.parse(body) as unknown };
}
