import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { startStack, type Stack } from './stack.js';

// Request smuggling and response desync (apps/gateway/README.md, "Framing and smuggling"): the
// gateway and the upstream must agree on where each request ends, so no second request rides on
// a pooled upstream connection with another client's identity or none; each pipelined request
// is authenticated on its own and answered in its turn; and an upstream that frames an answer
// wrongly costs that answer, never the next client's.

let stack: Stack;
/** Records every request the upstream received, as Node's parser read it. */
let echo: Server;
/** Answers with the bytes a test scripts, for answers no HTTP server would frame. */
let rawUpstream: TcpServer;
let rawGateway: GatewayHandle;
let key: string;
let otherKey: string;
const OTHER_ACCOUNT = 'acc_smuggling_other';

interface Received {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Header names as they came, lower-cased, to see one was not sent at all. */
  names: string[];
  body: string;
  trailers: string[];
}
const received: Received[] = [];
const upstreamSockets = new Set<Socket>();

/** The raw upstream's scripted answers, by path; any other path is answered `{"path": ...}` with a correct Content-Length. */
const SCRIPTS: Record<string, (socket: Socket) => void> = {
  // Promises 100 bytes, sends 10, then neither more nor a close.
  '/v1/records/short-body': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789'),
  '/v1/records/short-body-closed': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789'),
  // Promises 5 bytes and sends a whole second answer after them: a client of this connection must never get it.
  '/v1/records/long-body': (s) =>
    s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nleaked!'),
  '/v1/records/chunks-cut': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'),
  '/v1/records/cl-and-te': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nleaked!'),
  '/v1/records/two-lengths': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 12\r\n\r\nhello leaked!'),
  '/v1/records/no-content-body': (s) => s.write('HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nleaked!'),
  '/v1/records/switching': (s) => s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nleaked!'),
};

beforeAll(async () => {
  echo = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('latin1')));
    request.on('end', () => {
      const names = request.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
      received.push({ method: request.method!, url: request.url!, headers, names, body, trailers: request.rawTrailers });
      const answer = JSON.stringify({ url: request.url, account: request.headers['x-keyplane-account-id'] ?? null });
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) }).end(answer);
    });
  });
  rawUpstream = createTcpServer((socket) => {
    upstreamSockets.add(socket);
    socket.on('close', () => upstreamSockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      // The gateway sends bodyless GETs here: each head is a request.
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const path = buffered.slice(0, end).split(' ')[1]!;
        buffered = buffered.slice(end + 4);
        const script = SCRIPTS[path];
        if (script) script(socket);
        else {
          const answer = JSON.stringify({ path });
          socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${answer.length}\r\n\r\n${answer}`);
        }
      }
    });
  });
  await Promise.all([echo, rawUpstream].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  stack = await startStack('e2e_smuggling', { upstreamUrl: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` });
  rawGateway = await stack.startGateway({ UPSTREAM_URL: `http://127.0.0.1:${(rawUpstream.address() as AddressInfo).port}`, UPSTREAM_TIMEOUT_MS: '1000' });
  key = (await stack.createKey({ environment: 'test', permissions: ['RECORDS:*'] })).key;
  otherKey = (await stack.createAccountAdmin(OTHER_ACCOUNT)).key;
});

afterAll(async () => {
  await stack?.close();
  echo?.closeAllConnections();
  for (const socket of upstreamSockets) socket.destroy();
  await Promise.all([echo, rawUpstream].map((server) => new Promise((resolve) => server?.close(resolve))));
});

beforeEach(() => {
  received.length = 0;
});

interface Answer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
}

interface Exchange {
  /** Every whole answer, in the order they came. */
  answers: Answer[];
  /** An answer whose head came but whose body did not all come before the connection closed. */
  cut?: Answer;
  /** Whether the gateway closed the connection (else it was still open when enough answers had come). */
  closed: boolean;
}

/**
 * Writes `bytes` in one write, as a pipelining client or an attacker would, and reads answers
 * until the gateway closes the connection or `expected` whole answers have come. Gives up after
 * 10 s with what it has, so a connection left open shows as `closed: false`.
 */
function exchange(base: string, bytes: string, expected = Number.POSITIVE_INFINITY): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(bytes, 'latin1'));
    let data = Buffer.alloc(0);
    let closed = false;
    const finish = () => {
      clearTimeout(guard);
      socket.destroy();
      resolve({ ...parseAnswers(data), closed });
    };
    const guard = setTimeout(finish, 10_000);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (parseAnswers(data).answers.length >= expected) finish();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
}

function parseAnswers(bytes: Buffer): { answers: Answer[]; cut?: Answer } {
  const answers: Answer[] = [];
  for (let at = 0; ; ) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return { answers };
    const [statusLine = '', ...lines] = bytes.subarray(at, headEnd).toString('latin1').split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    let body = '';
    let next = headEnd + 4;
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const sizeEnd = bytes.indexOf('\r\n', next);
        if (sizeEnd < 0) return { answers, cut: { status, headers, body } };
        const size = parseInt(bytes.subarray(next, sizeEnd).toString('latin1'), 16);
        if (bytes.length < sizeEnd + 2 + size + 2) return { answers, cut: { status, headers, body: body + bytes.subarray(sizeEnd + 2).toString('latin1') } };
        body += bytes.subarray(sizeEnd + 2, sizeEnd + 2 + size).toString('latin1');
        next = sizeEnd + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const length = Number(headers['content-length'] ?? 0);
      body = bytes.subarray(next, next + length).toString('latin1');
      if (body.length < length) return { answers, cut: { status, headers, body } };
      next += length;
    }
    answers.push({ status, headers, body });
    at = next;
  }
}

const bearer = (secret: string) => `Authorization: Bearer ${secret}\r\n`;
const get = (path: string, head = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${head}\r\n`;
const MALFORMED = { status: 400, body: '{"error":"Bad Request","details":"Malformed HTTP request"}' };
const summary = ({ status, body }: Answer) => ({ status, body });
/** What the echo upstream answers to a request it got with this identity. */
const echoed = (url: string, account: string | null = 'acc_root') => ({ status: 200, body: JSON.stringify({ url, account }) });
const UNAUTHORIZED = { status: 401, body: '{"error":"Unauthorized","details":"Invalid or missing API key"}' };

describe('conflicting or obscure request framing is refused before anything reaches the upstream', () => {
  // Each would let a front proxy and the gateway, or the gateway and the upstream, disagree on
  // where the body ends; a second request follows inside the ambiguity. Node's parser refuses
  // them all: a 400 and the connection closed, so the bytes after it are never read.
  const smuggled = get('/v1/records/smuggled');
  const post = (head: string, body: string) => `POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Type: text/plain\r\n${head}\r\n${body}`;
  it.each([
    ['Content-Length beside Transfer-Encoding (CL.TE)', post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${smuggled}`)],
    ['Transfer-Encoding before Content-Length (TE.CL)', post('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`)],
    ['two differing Content-Lengths', post('Content-Length: 2\r\nContent-Length: 40\r\n', `ab${smuggled}`)],
    ['two equal Content-Lengths', post('Content-Length: 2\r\nContent-Length: 2\r\n', `ab${smuggled}`)],
    ['a Content-Length list', post('Content-Length: 2, 2\r\n', `ab${smuggled}`)],
    ['a signed Content-Length', post('Content-Length: +2\r\n', `ab${smuggled}`)],
    ['Transfer-Encoding: chunked, identity', post('Transfer-Encoding: chunked, identity\r\n', `2\r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['Transfer-Encoding twice', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', `2\r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['a space before the colon', post('Transfer-Encoding : chunked\r\n', `2\r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['Transfer-Encoding continued on the next line (obs-fold)', post('Transfer-Encoding:\r\n chunked\r\n', `2\r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['an identity header folded into another (obs-fold)', `GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nX-A: a\r\n X-Keyplane-Account-Id: acc_evil\r\n\r\n${smuggled}`],
    ['bare LF line endings', `GET /v1/records HTTP/1.1\nHost: x\nAuthorization: Bearer KEY\n\n${smuggled}`],
    ['a bare LF inside a header value', `GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nX-A: a\nX-Keyplane-Account-Id: acc_evil\r\n\r\n${smuggled}`],
    ['a bare CR inside a header value', `GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nX-A: a\rX-Keyplane-Account-Id: acc_evil\r\n\r\n${smuggled}`],
    ['a NUL inside a header value', `GET /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nX-A: a\u0000b\r\n\r\n${smuggled}`],
    ['a chunk size written 0x2', post('Transfer-Encoding: chunked\r\n', `0x2\r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['a chunk size followed by a space', post('Transfer-Encoding: chunked\r\n', `2 \r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['a chunk size past 64 bits', post('Transfer-Encoding: chunked\r\n', `10000000000000002\r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['a bare LF in a chunk extension', post('Transfer-Encoding: chunked\r\n', `2;a\nb\r\nab\r\n0\r\n\r\n${smuggled}`)],
    ['chunk data longer than its size', post('Transfer-Encoding: chunked\r\n', `2\r\nabc\r\n0\r\n\r\n${smuggled}`)],
    ['an HTTP/2 preface (h2c with prior knowledge)', `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n${smuggled}`],
  ])('%s: 400, connection closed, nothing forwarded', async (_case, request) => {
    const result = await exchange(stack.gateway.url, request.replace('KEY', key));
    expect({ answers: result.answers.map(summary), closed: result.closed }).toEqual({ answers: [MALFORMED], closed: true });
    expect(received).toEqual([]);
  });
});

describe('request framing the gateway accepts reaches the upstream re-framed by its length', () => {
  // The gateway reads each body whole and sends it with a Content-Length of its own: the
  // upstream never parses the client's chunked framing, so no chunk trick can differ there.
  const post = (version: string, head: string) =>
    `POST /v1/records HTTP/${version}\r\nHost: x\r\n${bearer(key)}Content-Type: text/plain\r\n${head}\r\n2;ext="a b"\r\nab\r\n0\r\nX-Keyplane-Account-Id: acc_evil\r\nAuthorization: Bearer tv_live_x\r\nX-Request-Id: evil\r\n\r\n`;
  it.each([
    ['chunked, with an extension and trailers', '1.1', 'Transfer-Encoding: chunked\r\nTrailer: X-Keyplane-Account-Id, Authorization\r\n'],
    ['chunked in mixed case', '1.1', 'Transfer-Encoding: ChUnKeD\r\n'],
    ['chunked after a tab', '1.1', 'Transfer-Encoding:\tchunked\r\n'],
    ['chunked in HTTP/1.0', '1.0', 'Transfer-Encoding: chunked\r\n'],
  ])('%s: Content-Length 2, the body, no trailer, the key\'s identity', async (_case, version, head) => {
    const result = await exchange(stack.gateway.url, post(version, `${head}Connection: close\r\n`));
    expect(result.answers.map(summary)).toEqual([echoed('/v1/records')]);
    expect(received).toHaveLength(1);
    const [seen] = received;
    expect({
      body: seen!.body,
      contentLength: seen!.headers['content-length'],
      framing: seen!.names.filter((name) => ['transfer-encoding', 'trailer', 'te', 'authorization'].includes(name)),
      trailers: seen!.trailers,
      account: seen!.headers['x-keyplane-account-id'],
      requestId: seen!.headers['x-request-id'],
    }).toEqual({ body: 'ab', contentLength: '2', framing: [], trailers: [], account: 'acc_root', requestId: expect.stringMatching(/^req_/) });
  });
});

describe('transfer codings the gateway does not decode are refused (RFC 9112 §6.1)', () => {
  it.each(['gzip, chunked', 'identity, chunked', 'deflate,Chunked', 'xchunked'])('Transfer-Encoding: %s is a 501 before authentication, nothing forwarded', async (codings) => {
    // Observed: Node undid only the chunking, and the upstream got the still-compressed bytes
    // as the body itself, with a Content-Length and no trace of the coding. (A body without a
    // final chunked is not sent: Node would fail on it as it reads it, after the 501.)
    const body = /chunked$/i.test(codings) ? '2\r\nab\r\n0\r\n\r\n' : '';
    const request = `POST /v1/records HTTP/1.1\r\nHost: x\r\n${bearer(key)}Content-Type: text/plain\r\nX-Request-Id: trace-te\r\nTransfer-Encoding: ${codings}\r\n\r\n${body}`;
    const result = await exchange(stack.gateway.url, request);
    const unknown = codings.split(',')[0]!.trim();
    expect({
      answers: result.answers.map((answer) => ({ ...summary(answer), requestId: answer.headers['x-request-id'], rateLimit: answer.headers['x-ratelimit-limit'] })),
      closed: result.closed,
    }).toEqual({
      answers: [
        {
          status: 501,
          body: JSON.stringify({ error: 'Not Implemented', details: `Transfer-Encoding ${unknown} is not supported: send the body chunked or with a Content-Length` }),
          requestId: 'trace-te',
          rateLimit: undefined,
        },
      ],
      closed: true,
    });
    expect(received).toEqual([]);
  });
});

describe('a request hidden in a body the gateway does not forward never reaches the upstream', () => {
  const hidden = get('/v1/records/hidden', bearer(key));
  it('a GET body: read by its length and dropped, the GET forwarded without it, the next request served in turn', async () => {
    const request = `GET /v1/records/first HTTP/1.1\r\nHost: x\r\n${bearer(key)}Content-Length: ${hidden.length}\r\n\r\n${hidden}${get('/v1/records/second', `${bearer(key)}Connection: close\r\n`)}`;
    const result = await exchange(stack.gateway.url, request);
    expect({ answers: result.answers.map(summary), closed: result.closed }).toEqual({ answers: [echoed('/v1/records/first'), echoed('/v1/records/second')], closed: true });
    // Each went its own way to the upstream, in whichever order.
    expect(received.map(({ url, names, body }) => ({ url, length: names.includes('content-length'), body })).sort((a, b) => a.url.localeCompare(b.url))).toEqual([
      { url: '/v1/records/first', length: false, body: '' },
      { url: '/v1/records/second', length: false, body: '' },
    ]);
  });

  it.each([
    ['by its length', `Content-Length: ${hidden.length}\r\n\r\n${hidden}`],
    ['chunked', `Transfer-Encoding: chunked\r\n\r\n${hidden.length.toString(16)}\r\n${hidden}\r\n0\r\n\r\n`],
  ])('an unauthenticated body sent %s: one 401, then the next request in turn', async (_case, rest) => {
    const request = `POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n${rest}${get('/v1/records/after', `${bearer(key)}Connection: close\r\n`)}`;
    const result = await exchange(stack.gateway.url, request);
    expect({ answers: result.answers.map(summary), closed: result.closed }).toEqual({ answers: [UNAUTHORIZED, echoed('/v1/records/after')], closed: true });
    expect(received.map(({ url }) => url)).toEqual(['/v1/records/after']);
  });
});

describe('pipelining: each request authenticated on its own, answered in its turn', () => {
  it('three requests in one write, with a key, without one and with another account\'s key', async () => {
    const request = get('/v1/records/one', bearer(key)) + get('/v1/records/two') + get('/v1/records/three', `${bearer(otherKey)}Connection: close\r\n`);
    const result = await exchange(stack.gateway.url, request);
    expect({ answers: result.answers.map(summary), closed: result.closed }).toEqual({
      answers: [echoed('/v1/records/one'), UNAUTHORIZED, echoed('/v1/records/three', OTHER_ACCOUNT)],
      closed: true,
    });
    expect(received.map(({ url, headers }) => [url, headers['x-keyplane-account-id']]).sort()).toEqual([
      ['/v1/records/one', 'acc_root'],
      ['/v1/records/three', OTHER_ACCOUNT],
    ]);
  });

  it.each([
    ['a malformed request', 'GARBAGE\r\n\r\n', MALFORMED],
    ['a malformed chunked body', `POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`, MALFORMED],
    // The 401 does not wait for the body: it is that request's answer, and the broken body only closes the connection.
    ['a malformed chunked body without a key', 'POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', UNAUTHORIZED],
  ])('%s after a request still in flight: the earlier answer first, then its own, then the close', async (_case, bad, own) => {
    // Observed: the 400 went out at once, so the client read it as the first request's answer
    // (the first request's own answer never came).
    const result = await exchange(stack.gateway.url, get('/v1/records/first', bearer(key)) + bad.replace('KEY', key));
    expect({ answers: result.answers.map(summary), closed: result.closed }).toEqual({ answers: [echoed('/v1/records/first'), own], closed: true });
    expect(received.map(({ url }) => url)).toEqual(['/v1/records/first']);
  });

  it('a CONNECT after a request still in flight: the earlier answer first, then the 400, then the close', async () => {
    const result = await exchange(stack.gateway.url, get('/v1/records/first', bearer(key)) + 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect({ answers: result.answers.map(summary), closed: result.closed }).toEqual({
      answers: [echoed('/v1/records/first'), { status: 400, body: '{"error":"Bad Request","details":"CONNECT is not supported: the gateway is not a forward proxy"}' }],
      closed: true,
    });
  });

  it.each([
    ['websocket', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'],
    ['h2c', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n'],
  ])('an upgrade to %s is served as a plain request, as the connection\'s last', async (_case, head) => {
    // Node reads the bytes after an upgrade request as the new protocol's and, with no upgrade
    // handler, drops them: a request pipelined behind it went unanswered on a connection kept
    // open, so a client pipelining a third request would have read its answer as the second's.
    const result = await exchange(stack.gateway.url, get('/v1/records/upgrade', bearer(key) + head) + get('/v1/records/behind', bearer(key)));
    expect({ answers: result.answers.map((answer) => ({ ...summary(answer), connection: answer.headers.connection })), closed: result.closed }).toEqual({
      answers: [{ ...echoed('/v1/records/upgrade'), connection: 'close' }],
      closed: true,
    });
    expect(received.map(({ url, names }) => ({ url, upgrade: names.filter((name) => ['upgrade', 'http2-settings', 'connection'].includes(name)) }))).toEqual([
      { url: '/v1/records/upgrade', upgrade: ['connection'] },
    ]);
    expect(received[0]!.headers.connection).toBe('keep-alive');
  });

  it('an Upgrade header without "upgrade" in Connection is a plain request, and the connection stays usable', async () => {
    const result = await exchange(stack.gateway.url, get('/v1/records/one', `${bearer(key)}Upgrade: websocket\r\n`) + get('/v1/records/two', `${bearer(key)}Connection: close\r\n`));
    expect({ answers: result.answers.map(summary), closed: result.closed }).toEqual({ answers: [echoed('/v1/records/one'), echoed('/v1/records/two')], closed: true });
  });
});

describe('Connection: the gateway\'s own headers survive any list of hop-by-hop names', () => {
  it.each(['1.1', '1.0'])('HTTP/%s naming every header the gateway sets or needs in Connection', async (version) => {
    const names = 'close, X-Keyplane-Account-Id, X-Keyplane-Key-Id, X-Keyplane-Environment, X-Request-Id, X-Forwarded-For, Host, Content-Length, Content-Type';
    const request = `POST /v1/records HTTP/${version}\r\nHost: x\r\n${bearer(key)}Connection: ${names}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nX-Request-Id: trace-1\r\n\r\nab`;
    const result = await exchange(stack.gateway.url, request);
    expect(result.answers.map(summary)).toEqual([echoed('/v1/records')]);
    const [seen] = received;
    expect({
      body: seen!.body,
      contentLength: seen!.headers['content-length'],
      contentType: seen!.headers['content-type'],
      account: seen!.headers['x-keyplane-account-id'],
      keyId: seen!.headers['x-keyplane-key-id'],
      environment: seen!.headers['x-keyplane-environment'],
      requestId: seen!.headers['x-request-id'],
      forwardedFor: seen!.headers['x-forwarded-for'],
      host: seen!.headers.host,
    }).toEqual({
      body: 'ab',
      contentLength: '2',
      contentType: 'text/plain',
      account: 'acc_root',
      keyId: expect.stringMatching(/^key_/),
      environment: 'test',
      requestId: 'trace-1',
      forwardedFor: '127.0.0.1',
      host: new URL(`http://127.0.0.1:${(echo.address() as AddressInfo).port}`).host,
    });
  });
});

describe('CR, LF and NUL never reach the upstream decoded', () => {
  it('percent-encoded in the path and the query, they reach it still encoded, in the request line', async () => {
    const targets = ['/v1/records/a%0d%0aX-Keyplane-Account-Id:%20acc_evil', '/v1/records/a%00b', '/v1/records?a=%0D%0AX-Keyplane-Account-Id:%20acc_evil'];
    for (const target of targets) expect(summary((await exchange(stack.gateway.url, get(target, `${bearer(key)}Connection: close\r\n`))).answers[0]!)).toEqual(echoed(target));
    expect(received.map(({ url, headers }) => [url, headers['x-keyplane-account-id']])).toEqual(targets.map((target) => [target, 'acc_root']));
  });
});

describe('an upstream that frames its answer wrongly costs that answer, never the next client\'s', () => {
  /** The next client after a broken answer, on the same pool: it must get its own answer. */
  async function nextClientGetsItsOwn(label: string) {
    const path = `/v1/records/next-after-${label}`;
    const next = await exchange(rawGateway.url, get(path, `${bearer(key)}Connection: close\r\n`));
    expect(next.answers.map(summary)).toEqual([{ status: 200, body: JSON.stringify({ path }) }]);
  }

  it.each([
    ['short-body', 'promises more than it sends, then stalls'],
    ['short-body-closed', 'promises more than it sends, then closes'],
    ['chunks-cut', 'closes in the middle of a chunked body'],
  ])('%s (%s): the client gets what came and its connection closed, never kept', async (label) => {
    const result = await exchange(rawGateway.url, get(`/v1/records/${label}`, bearer(key)));
    expect({ answers: result.answers, cut: result.cut && summary(result.cut), closed: result.closed }).toEqual({
      answers: [],
      cut: { status: 200, body: label === 'chunks-cut' ? 'hello' : '0123456789' },
      closed: true,
    });
    await nextClientGetsItsOwn(label);
  });

  it('sends more than it promised: the client gets the promised bytes, and no one gets the rest', async () => {
    const result = await exchange(rawGateway.url, get('/v1/records/long-body', bearer(key)), 1);
    expect(result.answers.map(summary)).toEqual([{ status: 200, body: 'hello' }]);
    await nextClientGetsItsOwn('long-body');
  });

  it.each(['cl-and-te', 'two-lengths', 'switching'])('%s: an answer framed two ways, or switching protocols unasked, is a 502', async (label) => {
    const result = await exchange(rawGateway.url, get(`/v1/records/${label}`, `${bearer(key)}Connection: close\r\n`));
    expect(result.answers.map(summary)).toEqual([{ status: 502, body: '{"error":"Bad Gateway","details":"Upstream unavailable"}' }]);
    await nextClientGetsItsOwn(label);
  });

  it('a 204 with a body: the client gets the 204 alone, and no one gets the body', async () => {
    const result = await exchange(rawGateway.url, get('/v1/records/no-content-body', `${bearer(key)}Connection: close\r\n`));
    expect(result.answers.map(summary)).toEqual([{ status: 204, body: '' }]);
    await nextClientGetsItsOwn('no-content-body');
  });
});
