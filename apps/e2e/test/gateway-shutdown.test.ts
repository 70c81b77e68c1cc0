import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { waitFor } from '@keyplane/testing';
import { outageClient } from './outage-client.js';
import { startGatewayProcess } from './service-process.js';
import { RATE_LIMIT_HEADERS, startStack, type Stack } from './stack.js';

// A rolling update stops a gateway while clients are still sent to it: what they see between
// the SIGTERM and the exit. The in-process gateway's close() is what main.ts runs on SIGTERM;
// the last describe sends a real SIGTERM to the gateway as its own process.

const DELAY_MS = 1500;
const READYZ_WHILE_DRAINING = { status: 'not ready', checks: { nats: true, 'not-shutting-down': false } };
/** Large enough to cross the socket in many chunks: it must arrive whole. */
const HELD_BODY = JSON.stringify({ data: 'h'.repeat(256 * 1024) });
const STREAM_HEAD = '{"data":"';
const STREAM_TAIL = `${'s'.repeat(128 * 1024)}"}`;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: Socket;
}

let stack: Stack;
let upstream: Server;
let upstreamUrl: string;
/** Answers the upstream holds back until the test lets them go, by path. */
const held = new Map<string, () => void>();
let key: string;
let keyId: string;

/** One request over `agent` (a keep-alive agent of one socket is one connection; `false`, a new one); rejects with the error code. */
function send(base: string, path: string, agent: Agent | false, onHeaders?: () => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    const outgoing = request(`${base}${path}`, { agent, headers: { authorization: `Bearer ${key}` } }, (response) => {
      onHeaders?.();
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body, socket }));
      response.on('error', reject);
    });
    outgoing.on('socket', (assigned: Socket) => (socket = assigned));
    outgoing.on('error', (error: NodeJS.ErrnoException) => reject(new Error(error.code ?? error.message)));
    outgoing.setTimeout(15_000, () => outgoing.destroy(new Error('no answer within 15 s')));
    outgoing.end();
  });
}

/** Whether a new TCP connection to `base` is accepted. */
function accepts(base: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.once('connect', () => {
      resolve(true);
      socket.destroy();
    });
    socket.once('error', () => resolve(false));
  });
}

const closed = (socket: Socket) => new Promise<true>((resolve) => (socket.closed ? resolve(true) : socket.once('close', () => resolve(true))));

beforeAll(async () => {
  upstream = createServer((incoming, response) => {
    const json = { 'content-type': 'application/json' };
    if (incoming.url === '/v1/records/held') return void held.set('held', () => response.writeHead(200, json).end(HELD_BODY));
    if (incoming.url === '/v1/records/streaming') {
      response.writeHead(200, json).write(STREAM_HEAD);
      return void held.set('streaming', () => response.end(STREAM_TAIL));
    }
    response.writeHead(200, json).end(JSON.stringify({ url: incoming.url }));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  stack = await startStack('e2e_gateway_shutdown', { upstreamUrl, gatewayEnv: { SHUTDOWN_DELAY_MS: String(DELAY_MS) } });
  ({ key, id: keyId } = await stack.createKey({ permissions: ['RECORDS:READ'] }));
});

afterAll(async () => {
  for (const release of held.values()) release();
  await stack?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('the gateway shutting down with clients still sending', () => {
  const seen: Record<string, unknown> = {};
  let answered = 0;
  const counted = <T extends Answer>(answer: T) => {
    if (answer.status === 200) answered++;
    return answer;
  };

  beforeAll(async () => {
    const { url, metricsUrl } = stack.gateway;
    const idle = new Agent({ keepAlive: true, maxSockets: 1 });
    const inFlight = new Agent({ keepAlive: true, maxSockets: 1 });
    const streaming = new Agent({ keepAlive: true, maxSockets: 1 });
    const idleSocket = counted(await send(url, '/v1/records/1', idle)).socket;
    const heldAnswer = send(url, '/v1/records/held', inFlight).then(counted);
    let streamStarted = false;
    const streamAnswer = send(url, '/v1/records/streaming', streaming, () => (streamStarted = true)).then(counted);
    await waitFor('both held requests at the upstream, the streamed answer begun', () => held.size === 2 && streamStarted, 10_000);

    const started = Date.now();
    let closeDone = false;
    const closing = stack.gateway.close().then(() => (closeDone = true));
    const readyz = async (base: string) => {
      const response = await fetch(`${base}/readyz`);
      return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
    };
    seen.readyzInternal = await readyz(metricsUrl);
    seen.readyzPublic = await readyz(url);
    const fresh = new Agent({ keepAlive: true, maxSockets: 1 });
    seen.newConnection = counted(await send(url, '/v1/records/2', fresh));
    seen.keptConnection = counted(await send(url, '/v1/records/3', idle));
    seen.keptConnectionReused = (seen.keptConnection as Answer).socket === idleSocket;

    seen.refusedAfterMs = await waitFor('the listener to stop accepting', async () => !(await accepts(url)) && Date.now() - started, 15_000, 20);
    seen.idleClosedWhileAnswering = await Promise.race([closed(idleSocket), new Promise((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000))]);
    seen.inFlightStillAnswering = !closeDone;

    for (const release of held.values()) release();
    held.clear();
    seen.held = await heldAnswer;
    seen.stream = await streamAnswer;
    seen.streamSocketClosed = await Promise.race([closed((seen.stream as Answer).socket), new Promise((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000))]);
    await closing;
    seen.closedAfterMs = Date.now() - started;
    seen.acceptsAfterClose = await accepts(url);
    seen.metricsAfterClose = await accepts(metricsUrl);
    for (const agent of [idle, inFlight, streaming, fresh]) agent.destroy();
  }, 60_000);

  it('answers /readyz 503 at once, on the internal port and the public one, naming the shutdown', () => {
    const expected = { status: 503, type: 'application/json', body: READYZ_WHILE_DRAINING };
    expect({ internal: seen.readyzInternal, public: seen.readyzPublic }).toEqual({ internal: expected, public: expected });
  });

  it('serves a new connection, and a kept one, as usual during the delay', () => {
    for (const answer of [seen.newConnection, seen.keptConnection] as Answer[]) {
      expect({ status: answer.status, connection: answer.headers.connection }).toEqual({ status: 200, connection: 'keep-alive' });
      for (const name of RATE_LIMIT_HEADERS) expect({ name, value: answer.headers[name] }).toEqual({ name, value: expect.stringMatching(/^\d+$/) });
    }
    expect((seen.newConnection as Answer).body).toBe('{"url":"/v1/records/2"}');
    expect(seen.keptConnectionReused).toBe(true);
  });

  it('stops accepting connections only once the delay is over, and closes idle kept ones', () => {
    expect(seen.refusedAfterMs).toBeGreaterThanOrEqual(DELAY_MS - 10);
    expect(seen.idleClosedWhileAnswering).toBe(true);
    expect(seen.inFlightStillAnswering).toBe(true);
  });

  it('delivers an answer in flight whole, telling the client not to reuse its connection', () => {
    const answer = seen.held as Answer;
    expect({ status: answer.status, connection: answer.headers.connection, whole: answer.body === HELD_BODY }).toEqual({ status: 200, connection: 'close', whole: true });
    expect(answer.headers['x-ratelimit-limit']).toBe('1000');
  });

  it('finishes an answer whose headers were already sent, then closes its connection', () => {
    const answer = seen.stream as Answer;
    expect({ status: answer.status, whole: answer.body === STREAM_HEAD + STREAM_TAIL, socketClosed: seen.streamSocketClosed }).toEqual({ status: 200, whole: true, socketClosed: true });
  });

  it('closes once the last answer is out, and refuses connections after', () => {
    expect(seen.closedAfterMs).toBeLessThan(20_000);
    expect({ public: seen.acceptsAfterClose, internal: seen.metricsAfterClose }).toEqual({ public: false, internal: false });
  });

  it("loses nothing: auth's quota counter equals the requests answered", async () => {
    const { authUsed } = outageClient({ gatewayUrl: () => stack.gateway.url, databaseUrl: () => stack.databaseUrl, adminKey: stack.adminKey });
    expect(answered).toBe(5);
    const used = await waitFor("auth's counter to settle", async () => ((await authUsed(keyId)) === answered ? answered : undefined), 5000, 100).catch(() => authUsed(keyId));
    expect(used).toBe(answered);
  });

  it('logs the start of the drain and the close, with durations', () => {
    const lines = stack.logs.lines.map((line) => JSON.parse(line));
    const draining = lines.find((line) => line.msg?.startsWith('draining'));
    const done = lines.find((line) => line.msg?.startsWith('closed'));
    expect(draining).toMatchObject({ delayMs: DELAY_MS });
    expect(done).toMatchObject({ delayMs: DELAY_MS, listenerCloseMs: expect.any(Number), totalMs: expect.any(Number) });
    expect(done.totalMs).toBeGreaterThanOrEqual(DELAY_MS);
  });
});

describe('the gateway process on SIGTERM', () => {
  it('turns unready, keeps serving for SHUTDOWN_DELAY_MS, then exits 0 having logged both ends of the drain', async () => {
    const delayMs = 3000;
    const gateway = await startGatewayProcess(stack.ns.prefix, upstreamUrl, { SHUTDOWN_DELAY_MS: String(delayMs) });
    try {
      const signalled = Date.now();
      gateway.child.kill('SIGTERM');
      const readyz = await waitFor('/readyz 503', async () => {
        const response = await fetch(`${gateway.metricsUrl}/readyz`);
        return response.status === 503 ? response.json() : undefined;
      }, 5000, 20);
      const during = await send(gateway.url, '/v1/records/during', false);
      const exited = await gateway.exited;
      expect({ readyz, during: during.status, exited, afterMs: Date.now() - signalled >= delayMs }).toEqual({
        readyz: READYZ_WHILE_DRAINING,
        during: 200,
        exited: { code: 0, signal: null },
        afterMs: true,
      });
      const lines = gateway.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line));
      expect(lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['shutting down', expect.stringMatching(/^draining/), expect.stringMatching(/^closed/)]));
      expect(lines.find((line) => line.msg.startsWith('closed'))).toMatchObject({ delayMs, totalMs: expect.any(Number) });
    } finally {
      gateway.child.kill('SIGKILL');
    }
  }, 90_000);
});
