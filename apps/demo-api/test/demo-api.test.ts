import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs } from '@keyplane/testing';
import { loadDemoApiConfig } from '../src/config.js';
import { startDemoApiService } from '../src/start.js';

let service: ServiceHandle;

beforeAll(async () => {
  service = await startDemoApiService(loadDemoApiConfig({ PORT: '0', HOST: '127.0.0.1' }), { logDestination: new CapturedLogs() });
});

afterAll(() => service.close());

const live = { 'x-keyplane-environment': 'live', 'x-keyplane-account-id': 'acc_demo' };
const test = { 'x-keyplane-environment': 'test', 'x-keyplane-account-id': 'acc_demo' };

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(`${service.url}${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type'), body: (await response.json()) as Record<string, unknown> };
}

describe('demo API', () => {
  it('creates, reads, replaces, patches and deletes a flow', async () => {
    const created = await call('POST', '/v1/flows', live, { name: 'nightly', steps: [{ name: 'fetch', action: 'http.get' }] });
    expect(created).toEqual({
      status: 201,
      type: 'application/json',
      body: {
        id: expect.stringMatching(/^flow_[0-9A-Z]{26}$/),
        name: 'nightly',
        steps: [{ name: 'fetch', action: 'http.get' }],
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    });
    const id = created.body.id as string;

    expect(await call('GET', `/v1/flows/${id}`, live)).toMatchObject({ status: 200, body: created.body });
    expect(await call('GET', '/v1/flows', live)).toMatchObject({ status: 200, body: { data: [created.body] } });

    const replaced = await call('PUT', `/v1/flows/${id}`, live, { name: 'weekly' });
    expect(replaced).toMatchObject({ status: 200, body: { id, name: 'weekly', createdAt: created.body.createdAt } });
    expect(replaced.body.steps).toBeUndefined();

    expect(await call('PATCH', `/v1/flows/${id}`, live, { description: 'every Monday' })).toMatchObject({
      status: 200,
      body: { id, name: 'weekly', description: 'every Monday' },
    });

    expect(await call('DELETE', `/v1/flows/${id}`, live)).toEqual({ status: 200, type: 'application/json', body: { id, deleted: true } });
    expect(await call('GET', `/v1/flows/${id}`, live)).toEqual({
      status: 404,
      type: 'application/json',
      body: { error: 'Not Found', details: `Flow ${id} not found` },
    });
  });

  it('executes a flow and counts the run in analytics', async () => {
    const tenant = { 'x-keyplane-environment': 'live', 'x-keyplane-account-id': 'acc_runs' };
    const flow = await call('POST', '/v1/flows', tenant, { name: 'sync', steps: [{ name: 'copy', action: 'records.copy' }] });
    const run = await call('POST', `/v1/flows/${flow.body.id as string}/execute`, tenant, { input: { since: 'yesterday' } });

    expect(run).toEqual({
      status: 200,
      type: 'application/json',
      body: {
        id: expect.stringMatching(/^run_[0-9A-Z]{26}$/),
        flowId: flow.body.id,
        status: 'succeeded',
        output: { input: { since: 'yesterday' }, steps: [{ name: 'copy', action: 'records.copy', status: 'succeeded' }] },
        startedAt: expect.any(String),
        finishedAt: expect.any(String),
      },
    });
    expect(await call('POST', '/v1/flows/flow_missing/execute', tenant, {})).toMatchObject({
      status: 404,
      body: { error: 'Not Found', details: 'Flow flow_missing not found' },
    });
    expect(await call('GET', '/v1/analytics', tenant)).toEqual({
      status: 200,
      type: 'application/json',
      body: { environment: 'live', flows: 1, flowRuns: 1, records: 0, prompts: 0, generatedAt: expect.any(String) },
    });
  });

  it('keeps live and test data apart', async () => {
    const record = await call('POST', '/v1/records', test, { name: 'fixture', data: { a: 1 } });
    expect(record.status).toBe(201);
    const id = record.body.id as string;

    expect(await call('GET', `/v1/records/${id}`, live)).toMatchObject({ status: 404, body: { details: `Record ${id} not found` } });
    expect((await call('GET', '/v1/records', live)).body).toEqual({ data: [] });
    expect((await call('GET', '/v1/records', test)).body).toEqual({ data: [record.body] });
    expect(await call('DELETE', `/v1/records/${id}`, live)).toMatchObject({ status: 404 });
    expect((await call('GET', '/v1/records', { ...test, 'x-keyplane-account-id': 'acc_other' })).body).toEqual({ data: [] });
  });

  it('answers a bad body with a 400 naming the field', async () => {
    expect(await call('POST', '/v1/prompts', live, { name: 'greeting' })).toEqual({
      status: 400,
      type: 'application/json',
      body: { error: 'Bad Request', details: 'template: Invalid input: expected string, received undefined' },
    });
    expect(await call('POST', '/v1/flows', live, { name: '' })).toMatchObject({ status: 400, body: { details: 'name: must not be empty' } });
    expect(await call('POST', '/v1/flows', live, { name: 'x', steps: [{ name: 'a' }] })).toMatchObject({
      status: 400,
      body: { details: 'steps[0].action: Invalid input: expected string, received undefined' },
    });
    expect(await call('POST', '/v1/records', live, { name: 'x', data: {}, extra: 1 })).toMatchObject({
      status: 400,
      body: { details: 'Unrecognized key: "extra"' },
    });
    expect(await call('POST', '/v1/records', live, '{"name": ')).toEqual({
      status: 400,
      type: 'application/json',
      body: { error: 'Bad Request', details: 'Request body is not valid JSON' },
    });
  });

  it('refuses a request without the gateway headers, and unknown paths, in JSON', async () => {
    expect(await call('GET', '/v1/flows', {})).toEqual({
      status: 400,
      type: 'application/json',
      body: { error: 'Bad Request', details: 'X-Keyplane-Environment header must be "live" or "test"' },
    });
    expect(await call('GET', '/v1/nothing', live)).toEqual({
      status: 404,
      type: 'application/json',
      body: { error: 'Not Found', details: 'Cannot GET /v1/nothing' },
    });
  });

  it('serves no route, and stores nothing, for a request without both gateway headers', async () => {
    const flow = (await call('POST', '/v1/flows', live, { name: 'guarded' })).body;
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/flows'],
      ['POST', '/v1/flows', { name: 'x' }],
      ['GET', `/v1/flows/${flow.id as string}`],
      ['PUT', `/v1/flows/${flow.id as string}`, { name: 'x' }],
      ['PATCH', `/v1/flows/${flow.id as string}`, { name: 'x' }],
      ['DELETE', `/v1/flows/${flow.id as string}`],
      ['POST', `/v1/flows/${flow.id as string}/execute`, {}],
      ['GET', '/v1/records'],
      ['POST', '/v1/records', { name: 'x', data: {} }],
      ['GET', '/v1/prompts'],
      ['POST', '/v1/prompts', { name: 'x', template: 't' }],
      ['GET', '/v1/analytics'],
    ];
    const partial: Record<string, string>[] = [{}, { 'x-keyplane-environment': 'live' }, { 'x-keyplane-account-id': 'acc_demo' }];
    for (const headers of partial) {
      for (const [method, path, body] of routes) {
        const answer = await call(method, path, headers, body);
        expect({ method, path, headers, status: answer.status, error: answer.body.error }).toEqual({ method, path, headers, status: 400, error: 'Bad Request' });
      }
    }
    expect((await call('GET', `/v1/flows/${flow.id as string}`, live)).body).toEqual(flow);
    expect((await call('GET', '/v1/analytics', live)).body).toMatchObject({ flowRuns: 0, records: 0, prompts: 0 });
  });

  it('looks up an id of any length the gateway forwards, rather than refusing it at the router', async () => {
    for (const id of ['a'.repeat(101), 'a'.repeat(8000)]) {
      expect(await call('GET', `/v1/flows/${id}`, live)).toEqual({
        status: 404,
        type: 'application/json',
        body: { error: 'Not Found', details: `Flow ${id} not found` },
      });
    }
    expect((await call('POST', `/v1/flows/${'b'.repeat(200)}/execute`, live, {})).body).toEqual({ error: 'Not Found', details: `Flow ${'b'.repeat(200)} not found` });
  });

  it("answers a malformed percent-encoding in its own error shape, not Fastify's", async () => {
    for (const path of ['/v1/flows/%zz', '/%zz']) {
      expect(await call('GET', path, live)).toEqual({
        status: 400,
        type: 'application/json',
        body: { error: 'Bad Request', details: 'The request path holds a malformed percent-encoding' },
      });
    }
  });
});
