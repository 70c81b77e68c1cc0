import { randomUUID } from 'node:crypto';
import { CapturedLogs, waitFor } from '@keyplane/testing';
import { generateKey } from '@keyplane/key-format';
import { awayFromHourEnd, hourEndWaitMs, startStack, type Answer, type Stack } from './stack.js';
import { UNAVAILABLE } from './outage-client.js';
import { SHARED_POSTGRES, TcpProxy, withPort } from './tcp-proxy.js';

// One management call followed across services by its request id (docs/operations.md
// "Following one request"): the `X-Request-Id` the gateway answers is the `requestId` of every
// line keys, metering and the gateway write about that call. Failures are made by cutting keys'
// or metering's Postgres (each reaches it through a forwarder of its own); auth is untouched, so
// every call is authorized and reaches the service that fails.

let stack: Stack;
const logs = new CapturedLogs();
const adminKey = generateKey({ environment: 'live' }).key;
let pgKeys: TcpProxy;
let pgMetering: TcpProxy;
let subject: { key: string; id: string };

interface LogLine {
  name: string;
  level: number;
  msg: string;
  requestId?: string;
  [field: string]: unknown;
}

/** Every line any service logged with this message, in order. */
const linesSaying = (msg: string): LogLine[] => logs.lines.map((line) => JSON.parse(line) as LogLine).filter((line) => line.msg === msg);

/** Waits for a line with this message and request id: a service may log after the gateway answered. */
const loggedFor = (msg: string, requestId: string, timeoutMs = 10_000): Promise<LogLine> =>
  waitFor(`"${msg}" logged for ${requestId}`, async () => linesSaying(msg).find((line) => line.requestId === requestId), timeoutMs, 50);

const withRequestId = (requestId: string) => ({ 'x-request-id': requestId });

beforeAll(async () => {
  const pgPort = Number(SHARED_POSTGRES.port || 5432);
  pgKeys = await TcpProxy.start(SHARED_POSTGRES.hostname, pgPort);
  pgMetering = await TcpProxy.start(SHARED_POSTGRES.hostname, pgPort);
  stack = await startStack('e2e_request_trace', {
    adminKey,
    logs,
    authReplicas: 1,
    databaseUrlFor: (service, url) => (service === 'keys' ? withPort(url, pgKeys.port) : service === 'metering' ? withPort(url, pgMetering.port) : url),
    metering: {},
    gatewayEnv: { KEYS_TIMEOUT_MS: '5000', METERING_TIMEOUT_MS: '5000' },
  });
  subject = await stack.createKey({ name: 'traced', permissions: ['FLOWS:READ'] });
  await awayFromHourEnd(60);
}, 60_000 + hourEndWaitMs(60));

afterAll(async () => {
  for (const proxy of [pgKeys, pgMetering]) await proxy?.open().catch(() => undefined);
  await stack?.close().catch(() => undefined);
  for (const proxy of [pgKeys, pgMetering]) await proxy?.cut();
}, 60_000);

/** Runs `during` with the service's Postgres cut, then restores it and waits until `recovered`. */
async function withPostgresCut<T>(proxy: TcpProxy, during: () => Promise<T>, recovered: () => Promise<boolean>): Promise<T> {
  await proxy.cut();
  try {
    return await during();
  } finally {
    await proxy.open();
    await waitFor('the service answering again', recovered, 20_000, 200);
  }
}

const keysAnswers = async () => (await stack.call('GET', `/v1/api-keys/${subject.id}`)).status === 200;
const meteringAnswers = async () => (await stack.call('GET', `/v1/api-keys/${subject.id}/usage`)).status === 200;

describe("a management call that fails inside keys (keys' Postgres cut)", () => {
  const clientId = `client-${randomUUID()}`;
  let query: Answer;
  let command: Answer;

  beforeAll(async () => {
    [query, command] = await withPostgresCut(
      pgKeys,
      async () => [
        await stack.call('GET', `/v1/api-keys/${subject.id}`, { headers: withRequestId(clientId) }),
        await stack.call('POST', `/v1/api-keys/${subject.id}/revoke`, { body: { reason: 'traced' } }),
      ],
      keysAnswers,
    );
  }, 60_000);

  it('answers 503 Keys service unavailable, with the request id the client sent, or the gateway\'s own', () => {
    expect({ status: query.status, body: query.body, requestId: query.headers.get('x-request-id') }).toEqual({ status: 503, body: UNAVAILABLE.keys, requestId: clientId });
    expect({ status: command.status, body: command.body, requestId: command.headers.get('x-request-id') }).toEqual({
      status: 503,
      body: UNAVAILABLE.keys,
      requestId: expect.stringMatching(/^req_[0-9a-f-]{36}$/),
    });
  });

  it("keys' error line for the query carries the client's request id", async () => {
    expect(await loggedFor('key message failed', clientId)).toMatchObject({ name: 'keys', level: 50, handler: 'get', requestId: clientId });
  });

  it("keys' error line for the command carries the request id the gateway made and answered", async () => {
    const requestId = command.headers.get('x-request-id')!;
    expect(await loggedFor('key message failed', requestId)).toMatchObject({ name: 'keys', level: 50, handler: 'revoke', requestId });
  });

  it('no keys error line of these calls goes without a request id', () => {
    const failed = linesSaying('key message failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.filter((line) => line.requestId === undefined)).toEqual([]);
  });
});

describe("a management call that fails inside metering (metering's Postgres cut)", () => {
  const alertsId = `client-${randomUUID()}`;
  const getId = `client-${randomUUID()}`;
  let alerts: Answer;
  let usage: Answer;
  let get: Answer;

  beforeAll(async () => {
    [alerts, usage, get] = await withPostgresCut(
      pgMetering,
      async () => [
        await stack.call('GET', '/v1/alerts', { headers: withRequestId(alertsId) }),
        await stack.call('GET', `/v1/api-keys/${subject.id}/usage`),
        // Keys answers; only the key's lastUsedAt, asked of metering, is missing.
        await stack.call('GET', `/v1/api-keys/${subject.id}`, { headers: withRequestId(getId) }),
      ],
      meteringAnswers,
    );
  }, 60_000);

  it('answers 503 Metering service unavailable for alerts and usage, and the key with lastUsedAt null', () => {
    expect([alerts, usage].map((a) => ({ status: a.status, body: a.body }))).toEqual([
      { status: 503, body: UNAVAILABLE.metering },
      { status: 503, body: UNAVAILABLE.metering },
    ]);
    expect({ status: get.status, id: get.body.id, lastUsedAt: get.body.lastUsedAt, requestId: get.headers.get('x-request-id') }).toEqual({
      status: 200,
      id: subject.id,
      lastUsedAt: null,
      requestId: getId,
    });
  });

  it("metering's error line for each query carries the request id of the call that asked", async () => {
    const usageId = usage.headers.get('x-request-id')!;
    expect(usageId).toMatch(/^req_/);
    expect(await loggedFor('metering query failed', alertsId)).toMatchObject({ name: 'metering', level: 50, query: 'alerts', requestId: alertsId });
    expect(await loggedFor('metering query failed', usageId)).toMatchObject({ name: 'metering', level: 50, query: 'usage', requestId: usageId });
    expect(await loggedFor('metering query failed', getId)).toMatchObject({ name: 'metering', level: 50, query: 'last-used', requestId: getId });
  });

  it("the gateway's own line about the missing lastUsedAt carries it too", async () => {
    expect(await loggedFor('lastUsedAt left null: metering did not answer', getId)).toMatchObject({ name: 'gateway', level: 40, requestId: getId });
  });
});

describe('an NDJSON usage event stream whose metering fails mid-stream', () => {
  const EVENTS = 12;
  const streamId = `client-${randomUUID()}`;
  let lines = 0;
  let ended: 'complete' | 'cut';

  beforeAll(async () => {
    for (let i = 0; i < EVENTS; i++) expect((await stack.call('GET', '/v1/flows', { key: subject.key })).status).toBe(200);
    await waitFor('metering has every event', async () => {
      const answer = await stack.call('GET', `/v1/api-keys/${subject.id}/usage`);
      return answer.status === 200 && answer.body.data.at(-1).requests === EVENTS;
    }, 20_000, 200);
  }, 60_000);

  it('ends short, and metering\'s and the gateway\'s lines about the failed page carry the stream\'s request id', async () => {
    // One event a page, each page slowed on its way to Postgres: the stream is still paging when
    // its first line reaches us, and every page asked for after the cut fails.
    pgMetering.delayMs = 150;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      const response = await fetch(`${stack.gateway.url}/v1/api-keys/${subject.id}/events?limit=1`, {
        headers: { authorization: `Bearer ${adminKey}`, accept: 'application/x-ndjson', 'x-request-id': streamId },
        signal: AbortSignal.timeout(30_000),
      });
      expect({ status: response.status, requestId: response.headers.get('x-request-id') }).toEqual({ status: 200, requestId: streamId });
      reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      ended = 'cut';
      for (;;) {
        const chunk = await reader.read().catch(() => undefined);
        if (chunk === undefined) break;
        if (chunk.done) {
          ended = 'complete';
          break;
        }
        text += decoder.decode(chunk.value, { stream: true });
        if (lines === 0 && text.includes('\n')) await pgMetering.cut();
        lines = text.split('\n').filter(Boolean).length;
      }
    } finally {
      await reader?.cancel().catch(() => undefined);
      pgMetering.delayMs = 0;
      await pgMetering.open();
    }
    expect({ ended, short: lines < EVENTS }).toEqual({ ended: 'cut', short: true });
    expect(await loggedFor('metering query failed', streamId)).toMatchObject({ name: 'metering', query: 'events', requestId: streamId });
    expect(await loggedFor('usage event stream cut short: metering did not answer the next page', streamId)).toMatchObject({
      name: 'gateway',
      level: 40,
      keyId: subject.id,
      requestId: streamId,
    });
    await waitFor('metering answering again', meteringAnswers, 20_000, 200);
  }, 60_000);
});
