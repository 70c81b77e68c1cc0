import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { waitFor } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { metricTotal } from './metrics-total.js';
import { sleep, startStack, type Stack } from './stack.js';

// Clients that read their answer slowly or not at all (apps/gateway README, "Slow and idle
// clients"). The answer is larger than every socket buffer on its way, so a client that stops
// reading holds the gateway's bytes and, through back-pressure, the upstream's connection.

const SEND_TIMEOUT_MS = 3000;
// Functional bounds, not performance claims: on top of the timeout come two checks (750 ms
// apart here) and the suite shares 2 busy cores.
const SLACK_MS = 4000;
const LARGE_BYTES = 32 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

interface UpstreamAnswer {
  path: string;
  /** Bytes of the body written, as fast as the connection took them. */
  sent: number;
  finished: boolean;
  closed: boolean;
}

/** The upstream: a large answer on `/v1/flows/large…`, an endless one on `/v1/flows/endless…`, a small one elsewhere; it records how each answer ended. */
class Upstream {
  readonly server: Server;
  received = 0;
  readonly answers: UpstreamAnswer[] = [];

  constructor() {
    this.server = createServer((request: IncomingMessage, response: ServerResponse) => {
      this.received++;
      const answer: UpstreamAnswer = { path: request.url ?? '', sent: 0, finished: false, closed: false };
      this.answers.push(answer);
      response.on('finish', () => (answer.finished = true));
      response.on('close', () => (answer.closed = true));
      if (answer.path.startsWith('/v1/flows/large')) {
        response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': LARGE_BYTES });
        const writeMore = () => {
          while (answer.sent < LARGE_BYTES) {
            answer.sent += CHUNK.length;
            if (!response.write(CHUNK)) return void response.once('drain', writeMore);
          }
          response.end();
        };
        writeMore();
      } else if (answer.path.startsWith('/v1/flows/endless')) {
        // A stream that stays open until the test ends, as a long download or event stream does.
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        response.write(CHUNK);
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"data":[]}');
      }
    });
  }

  answerTo(path: string) {
    return this.answers.find((answer) => answer.path === path);
  }
}

let upstream: Upstream;
let stack: Stack;
let key: string;
const sockets: Socket[] = [];

beforeAll(async () => {
  upstream = new Upstream();
  await new Promise<void>((resolve) => upstream.server.listen(0, '127.0.0.1', resolve));
  const upstreamUrl = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}`;
  stack = await startStack('e2e_slow_readers', { upstreamUrl, gatewayEnv: { CLIENT_SEND_TIMEOUT_MS: String(SEND_TIMEOUT_MS) } });
  key = (await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 100_000, day: 100_000 } })).key;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await stack?.close();
  upstream?.server.closeAllConnections();
  await new Promise((resolve) => upstream?.server.close(resolve));
});

/** Sends one request on a raw connection that reads nothing until told to. */
function request(gateway: GatewayHandle, path: string): Socket {
  const socket = connect({ port: Number(new URL(gateway.url).port), host: '127.0.0.1' });
  socket.on('error', () => undefined);
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`);
  sockets.push(socket);
  return socket;
}

/** Counts what the socket receives: the answer's status line and how many bytes of its body. */
class Received {
  private head = '';
  private total = 0;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (!this.head.includes('\r\n\r\n')) this.head += chunk.toString('latin1', 0, Math.min(chunk.length, 4096));
      this.total += chunk.length;
    });
  }

  get statusLine(): string {
    return this.head.split('\r\n')[0]!;
  }

  get bodyBytes(): number {
    const headEnd = this.head.indexOf('\r\n\r\n');
    return headEnd < 0 ? 0 : this.total - headEnd - 4;
  }
}

const stalledClosed = (gateway: GatewayHandle) => metricTotal(gateway.metricsUrl, 'gateway_stalled_readers_closed_total');

describe('a client that stops reading its answer', () => {
  it('has its connection closed CLIENT_SEND_TIMEOUT_MS after it last took a byte, which frees the connection to the upstream; the answer it gets is cut short', async () => {
    const before = await stalledClosed(stack.gateway);
    const started = Date.now();
    const reader = request(stack.gateway, '/v1/flows/large-stalled');

    await waitFor('the upstream connection closed with the answer unsent', () => upstream.answerTo('/v1/flows/large-stalled')?.closed, SEND_TIMEOUT_MS + SLACK_MS);
    const closedAfter = Date.now() - started;

    expect(upstream.answerTo('/v1/flows/large-stalled')!.sent).toBeLessThan(LARGE_BYTES);
    expect(closedAfter).toBeGreaterThanOrEqual(SEND_TIMEOUT_MS);
    expect(await stalledClosed(stack.gateway)).toBe(before + 1);
    const received = new Received(reader);
    const ended = new Promise((resolve) => reader.on('close', resolve));
    reader.resume();
    await ended;
    expect(received.statusLine).toBe('HTTP/1.1 200 OK');
    expect(received.bodyBytes).toBeLessThan(LARGE_BYTES);
  });
});

describe('a client that reads slowly', () => {
  it('pausing for less than CLIENT_SEND_TIMEOUT_MS each time, gets its whole answer', async () => {
    const before = await stalledClosed(stack.gateway);
    const reader = request(stack.gateway, '/v1/flows/large-slow');
    const received = new Received(reader);
    const closed = new Promise((resolve) => reader.on('close', resolve));
    const complete = () => received.bodyBytes >= LARGE_BYTES;

    // Pauses of a sixth of the timeout, a burst of reading between them.
    let pauses = 0;
    while (!complete() && !reader.destroyed) {
      pauses++;
      await sleep(SEND_TIMEOUT_MS / 6);
      reader.resume();
      await sleep(50);
      reader.pause();
    }

    expect(complete()).toBe(true);
    expect(received.statusLine).toBe('HTTP/1.1 200 OK');
    // The answer outgrew what the buffers on its way hold, so the gateway had bytes waiting through the pauses.
    expect(pauses).toBeGreaterThanOrEqual(2);
    expect(await stalledClosed(stack.gateway)).toBe(before);
    expect(upstream.answerTo('/v1/flows/large-slow')!.finished).toBe(true);
    reader.destroy();
    await closed;
  });
});

describe('many long answers at once', () => {
  it('do not hold up other clients: each has its own upstream connection, more than the 128 of a pooled proxy, and a request alongside is answered at once', async () => {
    const receivedBefore = upstream.received;
    const streams = 150;
    const readers: Received[] = [];
    for (let n = 0; n < streams; n++) {
      const socket = request(stack.gateway, `/v1/flows/endless-${n}`);
      readers.push(new Received(socket));
      socket.resume();
    }

    await waitFor(`all ${streams} streams at the upstream`, () => upstream.received - receivedBefore >= streams, 20_000);
    await waitFor(`all ${streams} streams flowing`, () => readers.every((reader) => reader.bodyBytes > 0), 10_000);
    const answer = await fetch(`${stack.gateway.url}/v1/flows`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(5000) });

    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ data: [] });
    expect(readers.map((reader) => reader.statusLine)).toEqual(Array(streams).fill('HTTP/1.1 200 OK'));
  });
});
