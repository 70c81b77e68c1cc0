import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { UsageBatch } from '@keyplane/contracts';
import { connectNats } from '@keyplane/nats';
import { TEST_NATS_URL, waitFor } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { rawRequest } from './raw-http.js';
import { sleep, startStack, type Stack } from './stack.js';

// DESIGN §2–§3 and the house rules: the secret never leaves the gateway (no log line, NATS
// message, stream or stored row holds it, whatever a client does with it), and the gateway
// fails closed on anything but a sound decision from whatever answers `auth.decide`.

let stack: Stack;
/** Every message of this stack's namespace, and every reply, as text. */
const natsSeen: string[] = [];
let watcher: NatsConnection;
let db: pg.Client;

/** A gateway whose `auth.decide` is answered by `fakeAuth`, in front of an upstream that counts what reaches it. */
let fakeGateway: GatewayHandle;
let fakeAuth: (request: { id: string }) => string | null = () => null;
let upstreamHits = 0;
let upstream: Server;

beforeAll(async () => {
  stack = await startStack('e2e_secrets_contract', { metering: {}, gatewayEnv: { LOG_LEVEL: 'debug' } });
  watcher = await connectNats({ url: TEST_NATS_URL, name: 'e2e-secrets-watcher' });
  watcher.subscribe('>', {
    callback: (_error, msg) => {
      if (msg.subject.startsWith(`${stack.ns.prefix}.`) || msg.subject.startsWith('_INBOX.')) {
        natsSeen.push(`${msg.subject} ${msg.headers?.toString() ?? ''} ${msg.string()}`);
      }
    },
  });
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();

  upstream = createServer((request, response) => {
    upstreamHits++;
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const fakePrefix = `${stack.ns.prefix}fake`;
  watcher.subscribe(`${fakePrefix}.auth.decide`, {
    callback: (_error, msg) => {
      const answer = fakeAuth(msg.json<{ id: string }>());
      if (answer !== null) msg.respond(answer);
    },
  });
  fakeGateway = await stack.startGateway({ NATS_PREFIX: fakePrefix, UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
});

afterAll(async () => {
  await db?.end();
  await watcher?.close();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
  await stack?.close();
});

const shown = (key: string) => `${key.slice(0, 12)}…${key.slice(-4)}`;
const typoOf = (key: string) => `${key.slice(0, 20)}${key[20] === 'a' ? 'b' : 'a'}${key.slice(21)}`;

/** Every row of every table of the services' schemas, as text. */
async function storedRows(): Promise<string[]> {
  const { rows: tables } = await db.query<{ s: string; t: string }>(
    `select table_schema as s, table_name as t from information_schema.tables where table_schema in ('keys', 'auth', 'metering')`,
  );
  const rows: string[] = [];
  for (const { s, t } of tables) for (const row of (await db.query(`select * from "${s}"."${t}"`)).rows) rows.push(`${s}.${t} ${JSON.stringify(row)}`);
  return rows;
}

/** Every message of every stream of this stack, as text, and the number of usage events among them. */
async function streamed(): Promise<{ messages: string[]; usageEvents: number }> {
  const jsm = await jetstreamManager(watcher);
  const messages: string[] = [];
  let usageEvents = 0;
  for (const name of Object.values(stack.ns.streams)) {
    const { state } = await jsm.streams.info(name).catch(() => ({ state: { messages: 0, first_seq: 1, last_seq: 0 } }));
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      const msg = await jsm.streams.getMessage(name, { seq });
      if (!msg) continue;
      messages.push(`${name} ${msg.subject} ${msg.string()}`);
      if (name === stack.ns.streams.usageEvents) usageEvents += UsageBatch.parse(msg.json()).events.length;
    }
  }
  return { messages, usageEvents };
}

describe('the secret never leaves the gateway', () => {
  it('is in no log line, NATS message, stream or stored row, wherever a client puts it', async () => {
    const admin = await stack.createKey({ permissions: ['*'] });
    const reader = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const secret = admin.key;
    const typo = typoOf(secret);
    const statuses: Record<string, number> = {};
    const call = async (what: string, method: string, path: string, options: Parameters<Stack['call']>[2] = {}) => {
      statuses[what] = (await stack.call(method, path, options)).status;
    };

    await call('header', 'GET', '/v1/flows', { key: secret });
    await call('typo', 'GET', '/v1/flows', { key: typo });
    await call('query', 'GET', `/v1/flows?q=${secret}`, { key: secret });
    // Observed: each of these put the whole key in auth.decide, the usage stream and metering.usage_events.
    await call('path', 'GET', `/v1/flows/${typo}`, { key: reader.key });
    await call('user agent', 'GET', '/v1/flows', { key: reader.key, headers: { 'user-agent': `deploy-bot ${secret}` } });
    await call('request id', 'GET', '/v1/flows', { key: reader.key, headers: { 'x-request-id': secret } });
    await call('bad JSON', 'POST', '/v1/api-keys', { key: secret, body: `{"name": ${secret}}` });
    await call('unknown field', 'POST', '/v1/api-keys', { key: secret, body: { name: 'x', permissions: [], key: secret } });
    const tooLarge = await rawRequest(
      stack.gateway.url,
      `POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\nConnection: close\r\n\r\n{"note":"${secret}"`,
    );
    statuses['413'] = tooLarge.status;
    const rotated = await stack.call('POST', `/v1/api-keys/${admin.id}/rotate`, { key: secret, body: { gracePeriodSeconds: 60 } });
    const next = rotated.body.key as string;
    await call('old secret in its grace period', 'GET', '/v1/flows', { key: secret });
    await call('revoke', 'POST', `/v1/api-keys/${admin.id}/revoke`, { key: next, body: {} });
    await sleep(300);
    await call('revoked', 'GET', '/v1/flows', { key: next });
    expect(statuses).toEqual({
      header: 200,
      typo: 401,
      query: 401,
      path: 404,
      'user agent': 200,
      'request id': 200,
      'bad JSON': 400,
      'unknown field': 400,
      '413': 413,
      'old secret in its grace period': 200,
      revoke: 200,
      revoked: 401,
    });

    // Every decision's usage event is stored by metering before anything is read.
    const decided = await waitFor('metering to store every usage event', async () => {
      const { messages, usageEvents } = await streamed();
      const { rows } = await db.query<{ n: number }>('select count(*)::int as n from metering.usage_events');
      return usageEvents > 0 && rows[0]!.n === usageEvents ? messages : null;
    }, 15_000, 100);
    const stored = await storedRows();
    const { rows: paths } = await db.query<{ path: string; user_agent: string; request_id: string }>(
      `select path, user_agent, request_id from metering.usage_events where key_id = $1 order by occurred_at`,
      [reader.id],
    );
    expect(paths).toEqual([
      { path: `/v1/flows/${shown(typo)}`, user_agent: 'node', request_id: expect.stringMatching(/^req_/) },
      { path: '/v1/flows', user_agent: `deploy-bot ${shown(secret)}`, request_id: expect.stringMatching(/^req_/) },
      // A request id holding a key is replaced by the gateway's own, so the upstream never sees it either.
      { path: '/v1/flows', user_agent: 'node', request_id: expect.stringMatching(/^req_/) },
    ]);

    const places = { logs: stack.logs.lines, nats: natsSeen, streams: decided, rows: stored };
    for (const leaked of [secret, next, reader.key, typo]) {
      const random = leaked.slice(8, 40);
      for (const [place, texts] of Object.entries(places)) {
        expect({ place, holding: texts.filter((text) => text.includes(random)) }).toEqual({ place, holding: [] });
      }
    }
    expect(stored.length).toBeGreaterThan(0);
    expect(natsSeen.some((text) => text.includes('auth.decide'))).toBe(true);
  }, 60_000);

  it('refuses a request whose path holds a well-formed key, before asking auth, like one in the query string', async () => {
    // Observed: GET /v1/api-keys/<key> was authenticated and answered 404 `API key tv_live_… not found`,
    // and /v1/flows/<key> was forwarded to the upstream with the key in its path.
    const { key } = await stack.createKey({ permissions: ['*'] });
    for (const path of [`/v1/api-keys/${key}`, `/v1/flows/${key}`, `/v1/flows/${key}/execute`]) {
      const answer = await stack.call('GET', path, { key });
      expect({ path, status: answer.status, body: answer.body, authenticate: answer.headers.get('www-authenticate'), limit: answer.headers.get('x-ratelimit-limit') }).toEqual({
        path,
        status: 401,
        body: { error: 'Unauthorized', details: 'Invalid or missing API key' },
        authenticate: 'Bearer',
        limit: null,
      });
    }
  });
});

describe('failing closed on what answers auth.decide', () => {
  const key = `tv_live_${'0'.repeat(32)}4XD7Ne`;
  const limits = { hour: { limit: 1000, used: 1, remaining: 999, resetAt: 1 }, day: { limit: 10000, used: 1, remaining: 9999, resetAt: 2 } };
  const decidedKey = { keyId: 'key_01J00000000000000000000000', accountId: 'acc_root', environment: 'live', permissions: ['FLOWS:READ'] };
  const replying = (response: unknown) => (request: { id: string }) => JSON.stringify({ id: request.id, response, isDisposed: true });
  const unavailable = { error: 'Service Unavailable', details: 'Authorization service unavailable' };
  const ask = async (path = '/v1/flows') => {
    const response = await fetch(`${fakeGateway.url}${path}`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: await response.json(), authenticate: response.headers.get('www-authenticate') };
  };

  it('answers a sound decision as usual', async () => {
    fakeAuth = replying({ ok: true, value: { outcome: 'allowed', reason: 'ok', key: decidedKey, limits } });
    const hits = upstreamHits;
    expect(await ask()).toEqual({ status: 200, body: {}, authenticate: null });
    expect(upstreamHits).toBe(hits + 1);
  });

  it('answers a reply that is not JSON with 503 at once, and goes on serving', async () => {
    // Observed: the deserializer's throw was an unhandled rejection (which ends a Node process),
    // and the request waited out AUTH_TIMEOUT_MS.
    for (const bytes of ['not json{', '']) {
      fakeAuth = () => bytes;
      const started = Date.now();
      expect(await ask()).toEqual({ status: 503, body: unavailable, authenticate: null });
      expect(Date.now() - started).toBeLessThan(1000);
    }
    fakeAuth = replying({ ok: true, value: { outcome: 'allowed', reason: 'ok', key: decidedKey, limits } });
    expect((await ask()).status).toBe(200);
  });

  it.each([
    ['allowed with the reason revoked', { outcome: 'allowed', reason: 'revoked', key: decidedKey, limits }, '/v1/flows'],
    ['allowed to a key without the route permission', { outcome: 'allowed', reason: 'ok', key: decidedKey, limits }, '/v1/prompts'],
    ['allowed to a key without any permission', { outcome: 'allowed', reason: 'ok', key: { ...decidedKey, permissions: [] }, limits }, '/v1/flows'],
  ])('answers a decision %s with 503 and proxies nothing', async (_what, decision, path) => {
    // Observed: each was proxied with a 200.
    fakeAuth = replying({ ok: true, value: decision });
    const hits = upstreamHits;
    expect(await ask(path)).toEqual({ status: 503, body: unavailable, authenticate: null });
    expect(upstreamHits).toBe(hits);
  });

  it.each([
    [404, 'Not Found'],
    [401, 'Unauthorized'],
    [429, 'Rate limit exceeded'],
    [400, 'Bad Request'],
  ])('answers an error %s from auth with its own 503, not as auth put it', async (status, error) => {
    // Observed: passed on as it came, e.g. a 401 without WWW-Authenticate, with auth's text.
    fakeAuth = replying({ ok: false, error: { status, error, details: 'whatever auth said' } });
    expect(await ask()).toEqual({ status: 503, body: unavailable, authenticate: null });
  });
});
