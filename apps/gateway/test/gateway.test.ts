import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import { CapturedLogs, freshNamespace, TEST_NATS_URL } from '@keyplane/testing';
import { generateKey } from '@keyplane/key-format';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadGatewayConfig } from '../src/config.js';
import { startGatewayService, type GatewayHandle } from '../src/start.js';

// The gateway alone, with no auth service behind it: everything it answers without a
// decision, and failing closed when no decision comes. Authorized traffic is tested in
// apps/e2e against the real services.

const { ns } = freshNamespace();
const logs = new CapturedLogs();
let gateway: GatewayHandle;
let nc: NatsConnection;
const decideCalls: unknown[] = [];

const env = (extra: Record<string, string> = {}) =>
  loadGatewayConfig({ PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0', NATS_URL: TEST_NATS_URL, NATS_PREFIX: ns.prefix, AUTH_TIMEOUT_MS: '200', ...extra });

beforeAll(async () => {
  nc = await connectNats({ url: TEST_NATS_URL, name: 'gateway-test' });
  // Counts decide requests and never answers: the timeout case of failing closed.
  nc.subscribe(ns.subjects.auth.decide, {
    callback: (_error, msg) => {
      decideCalls.push(decodeJson(msg.data));
    },
  });
  gateway = await startGatewayService(env(), { logDestination: logs });
});

afterAll(async () => {
  await gateway?.close();
  await nc?.close();
});

beforeEach(() => {
  decideCalls.length = 0;
});

async function call(path: string, init: RequestInit = {}) {
  const response = await fetch(`${gateway.url}${path}`, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const unauthorized = '{"error":"Unauthorized","details":"Invalid or missing API key"}';
const validKey = () => generateKey({ environment: 'live' }).key;

describe('gateway without an auth service', () => {
  it('answers probes and the dashboard unauthenticated, and keeps /metrics off the public port', async () => {
    expect(await call('/healthz')).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    expect(await call('/readyz')).toMatchObject({ status: 200, text: '{"status":"ready","checks":{"nats":true}}' });
    const page = await call('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('/v1/api-keys');
    expect(await call('/metrics')).toMatchObject({ status: 404, text: '{"error":"Not Found","details":"No route for GET /metrics"}' });
  });

  it('serves metrics and probes on the internal port', async () => {
    await call('/v1/flows');
    const metrics = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/gateway_requests_total\{route="GET \/v1\/flows",status="401",service="gateway"\} \d+/);
    expect(metrics).toContain('gateway_rejected_locally_total{reason="no_bearer_token",service="gateway"}');
    expect(await (await fetch(`${gateway.metricsUrl}/readyz`)).json()).toEqual({ status: 'ready', checks: { nats: true } });
  });

  it('answers paths outside /v1 with a JSON 404', async () => {
    const response = await call('/admin', { method: 'POST' });
    expect(response).toMatchObject({ status: 404, text: '{"error":"Not Found","details":"No route for POST /admin"}' });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await call('/admin', { method: 'PURGE' })).toMatchObject({ status: 404, text: '{"error":"Not Found","details":"No route for PURGE /admin"}' });
  });

  it('authenticates every method Node accepts on /v1, not only those Fastify routes by default', async () => {
    for (const method of ['PURGE', 'PROPFIND', 'M-SEARCH', 'QUERY', 'UNSUBSCRIBE']) {
      const response = await call('/v1/flows', { method });
      expect({ method, status: response.status, text: response.text }).toEqual({ method, status: 401, text: unauthorized });
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it.each([
    ['no header', {}],
    ['another scheme', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ['two spaces', { authorization: `Bearer  ${validKey()}` }],
    ['a malformed key', { authorization: 'Bearer tv_live_short' }],
    ['a bad checksum', { authorization: `Bearer ${withBadChecksum(validKey())}` }],
    ['another prefix', { authorization: `Bearer ${generateKey({ prefix: 'xx', environment: 'live' }).key}` }],
  ])('answers %s with 401 without asking auth', async (_what, headers) => {
    const response = await call('/v1/flows', { headers });
    expect(response).toMatchObject({ status: 401, text: unauthorized });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.headers.get('x-ratelimit-limit')).toBeNull();
    expect(decideCalls).toEqual([]);
  });

  it('refuses a key in the query string, even with a valid header', async () => {
    const key = validKey();
    for (const param of ['api_key', 'key', 'access_token']) {
      const response = await call(`/v1/flows?${param}=${key}`, { headers: { authorization: `Bearer ${key}` } });
      expect(response).toMatchObject({ status: 401, text: unauthorized });
    }
    expect(decideCalls).toEqual([]);
    expect(logs.text()).not.toContain(key);
  });

  it('fails closed with 503 when auth does not answer, sending only the hash', async () => {
    const key = validKey();
    const started = Date.now();
    const response = await call('/v1/flows/flow_1?limit=5', { headers: { authorization: `Bearer ${key}`, 'x-request-id': 'req-abc' } });

    expect(response).toMatchObject({ status: 503, text: '{"error":"Service Unavailable","details":"Authorization service unavailable"}' });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-request-id')).toBe('req-abc');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(decideCalls).toEqual([
      {
        pattern: ns.subjects.auth.decide,
        id: expect.any(String),
        data: {
          keyHash: generateKeyHash(key),
          permission: 'FLOWS:READ',
          method: 'GET',
          path: '/v1/flows/flow_1',
          clientIp: '127.0.0.1',
          userAgent: expect.any(String),
          requestId: 'req-abc',
        },
      },
    ]);
    expect(JSON.stringify(decideCalls)).not.toContain(key);
    // The request is given up, not left waiting for a reply until the longest service timeout (keys', 5 s).
    expect(await (await fetch(`${gateway.metricsUrl}/metrics`)).text()).toContain('gateway_service_requests_waiting{service="gateway"} 0');
  });

  describe('the client address auth is told', () => {
    const forwarded = { 'x-forwarded-for': '198.51.100.9, 203.0.113.7' };
    const clientIpAskedBy = async (base: string) => {
      decideCalls.length = 0;
      await fetch(`${base}/v1/flows`, { headers: { authorization: `Bearer ${validKey()}`, ...forwarded } });
      return (decideCalls as { data: { clientIp: string } }[]).map((call) => call.data.clientIp);
    };

    it('is the TCP peer by default: a client cannot pick its own with X-Forwarded-For', async () => {
      expect(await clientIpAskedBy(gateway.url)).toEqual(['127.0.0.1']);
    });

    const clientIpAskedTrusting = async (trustedProxies: string) => {
      const trusting = await startGatewayService(env({ TRUSTED_PROXIES: trustedProxies }), { logDestination: new CapturedLogs() });
      try {
        return await clientIpAskedBy(trusting.url);
      } finally {
        await trusting.close();
      }
    };

    it('comes from X-Forwarded-For when the peer is a trusted proxy: the nearest address no trusted proxy added', async () => {
      expect(await clientIpAskedTrusting('loopback')).toEqual(['203.0.113.7']);
    });

    it('ignores X-Forwarded-For from a peer outside the trusted list', async () => {
      expect(await clientIpAskedTrusting('10.0.0.0/8')).toEqual(['127.0.0.1']);
    });
  });

  it('fails closed when auth answers with something that is not a decision', async () => {
    const liar = await connectNats({ url: TEST_NATS_URL, name: 'liar' });
    const { ns: other } = freshNamespace();
    liar.subscribe(other.subjects.auth.decide, {
      callback: (_error, msg) => {
        const { id } = decodeJson(msg.data) as { id: string };
        msg.respond(encodeJson({ id, response: { ok: true, value: { outcome: 'allowed' } }, isDisposed: true }));
      },
    });
    const lied = await startGatewayService(env({ NATS_PREFIX: other.prefix }), { logDestination: new CapturedLogs() });
    try {
      const response = await fetch(`${lied.url}/v1/flows`, { headers: { authorization: `Bearer ${validKey()}` } });
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ error: 'Service Unavailable', details: 'Authorization service unavailable' });
    } finally {
      await lied.close();
      await liar.close();
    }
  });

  it('answers huge headers with a JSON 431 and keeps serving', async () => {
    const response = await rawGet(gateway.url, '/v1/flows', { 'x-big': 'a'.repeat(20_000) });
    expect(response).toEqual({ status: 431, type: 'application/json', body: { error: 'Request Header Fields Too Large', details: 'Request headers are too large' } });
    expect((await call('/healthz')).status).toBe(200);
  });

  it('refuses to start with an unknown permission in its route table, naming the entry', async () => {
    const file = join(tmpdir(), `routes-${ns.prefix}.json`);
    writeFileSync(file, JSON.stringify({ routes: [{ methods: ['GET'], path: '/v1/flows', permission: 'FLOW:READ', target: 'upstream' }] }));
    await expect(startGatewayService(env({ ROUTES_FILE: file }), { logDestination: new CapturedLogs() })).rejects.toThrow(
      `${file}: routes[0] (GET /v1/flows): unknown permission "FLOW:READ"`,
    );
  });
});

function withBadChecksum(key: string): string {
  return key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
}

function generateKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

// fetch refuses to send oversized headers itself; node:http lets the server see them.
function rawGet(base: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; type: string | undefined; body: unknown }>((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}
