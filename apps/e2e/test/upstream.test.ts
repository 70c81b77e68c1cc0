import { startStack, type Stack } from './stack.js';

// Through the gateway to the demo API: environments kept apart, bad input answered in
// JSON at the right layer, and a clear 502 when the upstream is gone.

let stack: Stack;
let live: string;
let test: string;

beforeAll(async () => {
  stack = await startStack('e2e_upstream');
  live = (await stack.createKey({ permissions: ['FLOWS:*', 'RECORDS:*', 'ANALYTICS:READ'] })).key;
  test = (await stack.createKey({ environment: 'test', permissions: ['FLOWS:*', 'RECORDS:*', 'ANALYTICS:READ'] })).key;
});

afterAll(() => stack?.close());

describe('the demo API behind the gateway', () => {
  it('keeps test and live data apart', async () => {
    const liveFlow = await stack.call('POST', '/v1/flows', { key: live, body: { name: 'production sync' } });
    const testFlow = await stack.call('POST', '/v1/flows', { key: test, body: { name: 'staging sync' } });
    expect(liveFlow.status).toBe(201);
    expect(testFlow.status).toBe(201);

    expect((await stack.call('GET', '/v1/flows', { key: live })).body).toEqual({ data: [liveFlow.body] });
    expect((await stack.call('GET', '/v1/flows', { key: test })).body).toEqual({ data: [testFlow.body] });
    expect(await stack.call('GET', `/v1/flows/${liveFlow.body.id}`, { key: test })).toMatchObject({
      status: 404,
      body: { error: 'Not Found', details: `Flow ${liveFlow.body.id} not found` },
    });
    expect((await stack.call('POST', `/v1/flows/${testFlow.body.id}/execute`, { key: live, body: {} })).status).toBe(404);
    expect((await stack.call('GET', '/v1/analytics', { key: test })).body).toMatchObject({ environment: 'test', flows: 1 });
  });

  it('does not let a client choose its environment or account with headers', async () => {
    const created = await stack.call('POST', '/v1/records', {
      key: test,
      body: { name: 'fixture', data: {} },
      headers: { 'X-Keyplane-Environment': 'live', 'x-keyplane-account-id': 'acc_other' },
    });
    expect(created.status).toBe(201);
    expect((await stack.call('GET', '/v1/records', { key: live })).body).toEqual({ data: [] });
    expect((await stack.call('GET', '/v1/records', { key: test })).body.data).toHaveLength(1);
  });

  it('executes a flow and returns its run', async () => {
    const flow = await stack.call('POST', '/v1/flows', { key: live, body: { name: 'run me', steps: [{ name: 'one', action: 'noop' }] } });
    const run = await stack.call('POST', `/v1/flows/${flow.body.id}/execute`, { key: live, body: { input: { n: 1 } } });
    expect(run).toMatchObject({
      status: 200,
      body: { id: expect.stringMatching(/^run_/), flowId: flow.body.id, status: 'succeeded', output: { input: { n: 1 } } },
    });
  });

  it.each([
    ['a body that is not JSON', '{"name":', 'Request body is not valid JSON'],
    ['a wrong type', { name: 42 }, 'name: Invalid input: expected string, received number'],
    ['a missing field', {}, 'name: Invalid input: expected string, received undefined'],
  ])('answers %s with a JSON 400', async (_case, body, details) => {
    const answer = await stack.call('POST', '/v1/flows', { key: live, body });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: 'Bad Request', details });
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
  });

  it('answers a body over 1 MiB with a JSON 413', async () => {
    const answer = await stack.call('POST', '/v1/flows', { key: live, body: { name: 'x'.repeat(1024 * 1024) } });
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual({ error: 'Payload Too Large', details: 'Request body is larger than 1048576 bytes' });
  });

  it('does not read the body of an unauthenticated request', async () => {
    const answer = await stack.call('POST', '/v1/flows', { key: null, body: { name: 'x'.repeat(2 * 1024 * 1024) } });
    expect(answer).toMatchObject({ status: 401, body: { error: 'Unauthorized', details: 'Invalid or missing API key' } });
  });

  it('answers 502 when the upstream is down', async () => {
    await stack.stopDemo();
    const answer = await stack.call('GET', '/v1/flows', { key: live });
    expect(answer.status).toBe(502);
    expect(answer.body).toEqual({ error: 'Bad Gateway', details: 'Upstream unavailable' });
    expect(answer.headers.get('content-type')).toBe('application/json');
    expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
  });
});
