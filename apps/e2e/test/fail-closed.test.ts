import { startStack, type Stack } from './stack.js';

// DESIGN §6: without an authorization decision nothing passes, and management calls say
// which service is missing.

let stack: Stack;
let key: string;

beforeAll(async () => {
  stack = await startStack('e2e_fail_closed');
  ({ key } = await stack.createKey({ permissions: ['*'] }));
});

afterAll(() => stack?.close());

const UNAVAILABLE = { error: 'Service Unavailable', details: 'Authorization service unavailable' };

describe('failing closed', () => {
  it('answers management calls with 503 while the keys service is down', async () => {
    expect((await stack.call('GET', '/v1/api-keys', { key })).status).toBe(200);
    await stack.stopKeys();
    for (const [method, path, body] of [
      ['GET', '/v1/api-keys', undefined],
      ['POST', '/v1/api-keys', { name: 'x', permissions: ['FLOWS:READ'] }],
    ] as const) {
      const answer = await stack.call(method, path, { key, body });
      expect({ path, status: answer.status, body: answer.body }).toEqual({
        path,
        status: 503,
        body: { error: 'Service Unavailable', details: 'Keys service unavailable' },
      });
      expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
    }
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
  });

  it('answers every /v1 request with 503 once no auth replica is running, and never proxies it', async () => {
    await stack.stopAuth();
    for (const [method, path] of [
      ['GET', '/v1/flows'],
      ['POST', '/v1/flows'],
      ['GET', '/v1/api-keys'],
      ['GET', '/v1/unknown'],
    ] as const) {
      const started = Date.now();
      const answer = await stack.call(method, path, { key, body: method === 'POST' ? { name: 'must not be created' } : undefined });
      expect({ path, status: answer.status, body: answer.body }).toEqual({ path, status: 503, body: UNAVAILABLE });
      expect(answer.headers.get('content-type')).toBe('application/json');
      // At once, from NATS's no-responders status: well within the gateway's auth timeout (2 s in the stack).
      expect(Date.now() - started).toBeLessThan(1500);
    }
    const flows = await fetch(`${stack.demo.url}/v1/flows`, { headers: { 'x-keyplane-environment': 'live', 'x-keyplane-account-id': 'acc_root' } });
    expect(await flows.json()).toEqual({ data: [] });

    expect(await (await fetch(`${stack.gateway.url}/readyz`)).json()).toEqual({ status: 'ready', checks: { nats: true } });

    // Said in the log, once for a run of them (docs/operations.md "Probes and metrics").
    const said = stack.logs.lines.map((line) => JSON.parse(line)).filter((line) => line.msg === 'no decision from auth: answered 503');
    expect(said[0]).toMatchObject({ level: 40, name: 'gateway', details: 'Authorization service unavailable', suppressed: 0, requestId: expect.stringMatching(/^req_/) });
    expect(said.length + said.reduce((sum, line) => sum + line.suppressed, 0)).toBeLessThanOrEqual(4);
  });
});
