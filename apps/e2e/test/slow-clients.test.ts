import { connect, type Socket } from 'node:net';
import { waitFor } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { metricTotal } from './metrics-total.js';
import { sleep, startStack, type Stack } from './stack.js';

// Clients that are slow or idle on purpose, on the public port (apps/gateway README, "Slow and
// idle clients"): whatever they do, a connection is answered or closed within the configured
// limits, and one whose headers never complete costs no auth request and no quota. The limits
// are short here so that each case takes seconds; the defaults differ only in their values.

const LIMITS = { CLIENT_HEADERS_TIMEOUT_MS: '1000', CLIENT_REQUEST_TIMEOUT_MS: '2000', CLIENT_KEEP_ALIVE_TIMEOUT_MS: '1000' };
// Functional bounds, not performance claims: on top of a limit come Node's check interval (250 ms
// here) or its extra second of keep-alive, and the suite shares 2 busy cores.
const SLACK_MS = 4000;
const TIMED_OUT =
  'HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: 57\r\nConnection: close\r\n\r\n' +
  '{"error":"Request Timeout","details":"Request timed out"}';

let stack: Stack;
let key: string;
const open: Client[] = [];

beforeAll(async () => {
  stack = await startStack('e2e_slow_clients', { gatewayEnv: LIMITS });
  key = (await stack.createKey({ permissions: ['FLOWS:READ', 'FLOWS:WRITE'] })).key;
});

afterAll(async () => {
  for (const client of open) client.socket.destroy();
  await stack?.close();
});

/** A raw connection that records what it receives and when the server closes it. */
class Client {
  readonly socket: Socket;
  received = '';
  /** Milliseconds from opening to the server closing the connection. */
  readonly closed: Promise<number>;
  private drip: NodeJS.Timeout | undefined;

  /** `halfOpen`: like a hostile client, keep the connection (and keep sending) after the server's FIN. */
  constructor(gateway: GatewayHandle, { halfOpen = false } = {}) {
    const opened = Date.now();
    this.socket = connect({ port: Number(new URL(gateway.url).port), host: '127.0.0.1', allowHalfOpen: halfOpen });
    this.socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.on('close', () => {
        clearInterval(this.drip);
        resolve(Date.now() - opened);
      }),
    );
    open.push(this);
  }

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** Writes `text` every `everyMs` until the connection is closed. */
  trickle(text: string, everyMs: number): void {
    this.drip = setInterval(() => this.write(text), everyMs);
  }

  /** Waits for `count` complete answers, each with a Content-Length, and returns their heads and bodies. */
  async answers(count: number): Promise<{ head: string; body: string }[]> {
    return waitFor(`${count} answers`, () => {
      const found: { head: string; body: string }[] = [];
      for (let at = 0; found.length < count; ) {
        const headEnd = this.received.indexOf('\r\n\r\n', at);
        if (headEnd < 0) return null;
        const head = this.received.slice(at, headEnd);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
        if (this.received.length < headEnd + 4 + length) return null;
        found.push({ head, body: this.received.slice(headEnd + 4, headEnd + 4 + length) });
        at = headEnd + 4 + length;
      }
      return found;
    });
  }
}

const openConnections = (gateway: GatewayHandle) => metricTotal(gateway.metricsUrl, 'gateway_open_connections');
const decisions = () => metricTotal(stack.gateway.metricsUrl, 'gateway_auth_decision_seconds_count');
const rejectedLocally = () => metricTotal(stack.gateway.metricsUrl, 'gateway_rejected_locally_total');
const waiting = () => metricTotal(stack.gateway.metricsUrl, 'gateway_service_requests_waiting');
/** The key's hourly remainder after one more request, which itself counts. */
const remainingAfterACall = async () => Number((await stack.call('GET', '/v1/flows', { key })).headers.get('x-ratelimit-remaining-hour'));

describe('headers that never complete', () => {
  it('are answered 408 in JSON and the connection closed at the headers timeout, however often a byte comes; auth is never asked and nothing is counted', async () => {
    const remaining = await remainingAfterACall();
    const [decided, local] = [await decisions(), await rejectedLocally()];

    const slowloris = new Client(stack.gateway);
    slowloris.write(`GET /v1/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nX-Slow: `);
    slowloris.trickle('a', 200);
    const closedAfter = await slowloris.closed;

    expect(slowloris.received).toBe(TIMED_OUT);
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(1000 + SLACK_MS);
    expect({ decided: await decisions(), local: await rejectedLocally() }).toEqual({ decided, local });
    expect(await remainingAfterACall()).toBe(remaining - 1);
  });

  it('include a connection that sends nothing at all: the same 408 at the headers timeout', async () => {
    const silent = new Client(stack.gateway);
    const closedAfter = await silent.closed;

    expect(silent.received).toBe(TIMED_OUT);
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(1000 + SLACK_MS);
  });
});

describe('a body trickled after its headers', () => {
  it('is decided and counted once as its headers arrive, without holding the auth request, then answered 408 at the request timeout and closed though the client keeps sending; nothing reaches the upstream', async () => {
    const remaining = await remainingAfterACall();
    const decided = await decisions();

    const slowBody = new Client(stack.gateway, { halfOpen: true });
    slowBody.write(`POST /v1/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{"name":"slow"`);
    slowBody.trickle(' ', 200);

    await waitFor('the decision on the slow body', async () => (await decisions()) === decided + 1, 1500);
    expect(await waiting()).toBe(0);
    const closedAfter = await slowBody.closed;

    expect(slowBody.received).toBe(TIMED_OUT);
    expect(closedAfter).toBeGreaterThanOrEqual(1900);
    expect(closedAfter).toBeLessThan(2000 + SLACK_MS);
    expect(await decisions()).toBe(decided + 1);
    // This call, and the slow body's request before it.
    expect(await remainingAfterACall()).toBe(remaining - 2);
    const flows = await stack.call('GET', '/v1/flows', { key });
    expect(flows.body.data.filter((flow: { name: string }) => flow.name === 'slow')).toEqual([]);
  });
});

describe('a last answer', () => {
  it('closes the connection of a client that keeps its own half open and keeps sending, a moment after the answer', async () => {
    const tunnel = new Client(stack.gateway, { halfOpen: true });
    tunnel.write('CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n');
    tunnel.trickle('x', 200);
    const closedAfter = await tunnel.closed;

    expect(tunnel.received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\n\{"error":"Bad Request","details":"CONNECT is not supported: the gateway is not a forward proxy"\}$/);
    expect(closedAfter).toBeLessThan(1000 + SLACK_MS);
  });
});

describe('keep-alive connections', () => {
  it('are closed, unanswered, after the keep-alive timeout that the Keep-Alive header advertises', async () => {
    const idle = new Client(stack.gateway);
    idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer] = await idle.answers(1);
    const answeredAt = Date.now();
    const received = idle.received;

    expect(answer!.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer!.head).toMatch(/\r\nKeep-Alive: timeout=1$/im);
    await idle.closed;
    const idleFor = Date.now() - answeredAt;

    expect(idle.received).toBe(received);
    expect(idleFor).toBeGreaterThanOrEqual(900);
    // Node closes one second after the advertised timeout, so a client never sends into a closing connection.
    expect(idleFor).toBeLessThan(2000 + SLACK_MS);
  });

  it('serve request after request within the keep-alive timeout, each timed on its own: the connection outlives the request timeout', async () => {
    const remaining = await remainingAfterACall();
    const reused = new Client(stack.gateway);
    const started = Date.now();
    for (let n = 1; n <= 4; n++) {
      reused.write(`GET /v1/flows HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`);
      await reused.answers(n);
      if (n < 4) await sleep(700);
    }
    const answers = await reused.answers(4);

    expect(Date.now() - started).toBeGreaterThan(2000);
    expect(answers.map(({ head }) => head.split('\r\n')[0])).toEqual(Array(4).fill('HTTP/1.1 200 OK'));
    expect(answers.map(({ head }) => Number(/\r\nx-ratelimit-remaining-hour: (\d+)/i.exec(head)?.[1]))).toEqual([1, 2, 3, 4].map((n) => remaining - n));
    expect(reused.socket.destroyed).toBe(false);
  });
});

describe('CLIENT_MAX_CONNECTIONS', () => {
  it('closes connections past the cap as they are accepted, unanswered, and counts them; those within are served, and a freed place is taken again; gateway_open_connections follows', async () => {
    const capped = await stack.startGateway({ ...LIMITS, CLIENT_KEEP_ALIVE_TIMEOUT_MS: '60000', CLIENT_MAX_CONNECTIONS: '2' });
    const health = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const first = new Client(capped);
    const second = new Client(capped);
    for (const client of [first, second]) {
      client.write(health);
      await client.answers(1);
    }

    const third = new Client(capped);
    third.write(health);
    await third.closed;

    expect(third.received).toBe('');
    expect(await metricTotal(capped.metricsUrl, 'gateway_connections_dropped_total')).toBe(1);
    expect(await openConnections(capped)).toBe(2);
    first.write(health);
    expect((await first.answers(2))[1]!.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);

    second.socket.destroy();
    await waitFor('the gateway to see a connection go', async () => (await openConnections(capped)) === 1);
    const fourth = new Client(capped);
    fourth.write(health);
    expect((await fourth.answers(1))[0]!.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(await openConnections(capped)).toBe(2);
  });
});
