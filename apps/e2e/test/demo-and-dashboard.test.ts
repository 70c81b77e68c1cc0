import { rawRequest } from './raw-http.js';
import { startStack, type Answer, type Stack } from './stack.js';

// Audit probes: the demo API (flows, records, prompts, analytics) as a client of the protected
// API sees it through the gateway (DESIGN §3, §4, §6; apps/demo-api/README.md), and the
// dashboard on the gateway's public port (apps/gateway/README.md). Each assertion is what the
// docs say or, where they are silent, what a user of a Stripe-like API expects.

let stack: Stack;
let live: string; // account acc_root, live
let live2: string; // a second live key of the same account
let test: string; // account acc_root, test
let other: string; // another account, live
let dashboardHtml: string;

const ALL = ['FLOWS:*', 'RECORDS:*', 'PROMPTS:*', 'ANALYTICS:READ'];

beforeAll(async () => {
  stack = await startStack('e2e_demo_dashboard');
  live = (await stack.createKey({ permissions: ALL })).key;
  live2 = (await stack.createKey({ permissions: ALL })).key;
  test = (await stack.createKey({ environment: 'test', permissions: ALL })).key;
  const otherAdmin = await stack.createAccountAdmin('acc_other');
  other = (await stack.createKey({ permissions: ALL }, otherAdmin.key)).key;
  dashboardHtml = await (await fetch(`${stack.gateway.url}/`)).text();
});

afterAll(() => stack?.close());

interface Resource {
  path: string;
  noun: string;
  prefix: string;
  /** A full body, with every optional field. */
  full: Record<string, unknown>;
  /** A body with the required fields only. */
  required: Record<string, unknown>;
  /** A partial change. */
  patch: Record<string, unknown>;
}

const RESOURCES: Resource[] = [
  {
    path: '/v1/flows',
    noun: 'Flow',
    prefix: 'flow',
    full: { name: 'nightly', description: 'every night', steps: [{ name: 'fetch', action: 'http.get' }] },
    required: { name: 'weekly' },
    patch: { description: 'changed' },
  },
  {
    path: '/v1/records',
    noun: 'Record',
    prefix: 'rec',
    full: { name: 'customer', data: { a: 1, nested: { b: [1, 2] } } },
    required: { name: 'renamed', data: {} },
    patch: { name: 'patched' },
  },
  {
    path: '/v1/prompts',
    noun: 'Prompt',
    prefix: 'prompt',
    full: { name: 'greeting', template: 'Hello {{name}}', model: 'gpt-x' },
    required: { name: 'farewell', template: 'Bye' },
    patch: { template: 'Hi {{name}}' },
  },
];

function expectJsonError(answer: Answer, status: number, details?: string | RegExp) {
  expect({ status: answer.status, contentType: answer.headers.get('content-type') }).toEqual({ status, contentType: 'application/json' });
  expect(typeof answer.body).toBe('object');
  expect(Object.keys(answer.body).sort()).toEqual(['details', 'error']);
  if (typeof details === 'string') expect(answer.body.details).toBe(details);
  else if (details) expect(answer.body.details).toMatch(details);
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('CRUD through the gateway (DESIGN §4, demo-api README)', () => {
  it.each(RESOURCES)('$path: create 201, get, list, PUT replaces, PATCH merges, DELETE answers {id, deleted}', async (r) => {
    const created = await stack.call('POST', r.path, { key: live, body: r.full });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/json');
    expect(created.headers.get('x-ratelimit-limit')).toBe('1000');
    expect(created.body).toEqual({ id: expect.stringMatching(new RegExp(`^${r.prefix}_[0-9A-Z]{26}$`)), ...r.full, createdAt: expect.stringMatching(ISO), updatedAt: expect.stringMatching(ISO) });
    expect(created.body.updatedAt).toBe(created.body.createdAt);
    const id = created.body.id as string;

    const got = await stack.call('GET', `${r.path}/${id}`, { key: live });
    expect({ status: got.status, type: got.headers.get('content-type'), body: got.body }).toEqual({ status: 200, type: 'application/json', body: created.body });

    const list = await stack.call('GET', r.path, { key: live });
    expect(list.status).toBe(200);
    expect(Object.keys(list.body)).toEqual(['data']);
    expect(list.body.data).toContainEqual(created.body);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const replaced = await stack.call('PUT', `${r.path}/${id}`, { key: live, body: r.required });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual({ id, ...r.required, createdAt: created.body.createdAt, updatedAt: expect.stringMatching(ISO) });
    expect(replaced.body.updatedAt > created.body.createdAt).toBe(true);
    expect((await stack.call('GET', `${r.path}/${id}`, { key: live })).body).toEqual(replaced.body);

    const patched = await stack.call('PATCH', `${r.path}/${id}`, { key: live, body: r.patch });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual({ ...replaced.body, ...r.patch, updatedAt: expect.stringMatching(ISO) });

    const deleted = await stack.call('DELETE', `${r.path}/${id}`, { key: live });
    expect({ status: deleted.status, type: deleted.headers.get('content-type'), body: deleted.body }).toEqual({ status: 200, type: 'application/json', body: { id, deleted: true } });

    for (const [method, body] of [['GET'], ['PUT', r.required], ['PATCH', r.patch], ['DELETE']] as const) {
      const answer = await stack.call(method, `${r.path}/${id}`, { key: live, body });
      expectJsonError(answer, 404, `${r.noun} ${id} not found`);
      expect(answer.body.error).toBe('Not Found');
    }
    expect((await stack.call('GET', r.path, { key: live })).body.data.map((x: { id: string }) => x.id)).not.toContain(id);
  });

  it.each(RESOURCES)('$path: lists in creation order (README), a PUT does not move an object', async (r) => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await stack.call('POST', r.path, { key: other, body: { ...r.required, name: `order ${i}` } })).body.id);
    await stack.call('PUT', `${r.path}/${ids[0]}`, { key: other, body: { ...r.required, name: 'order 0 again' } });
    const listed: string[] = (await stack.call('GET', r.path, { key: other })).body.data.map((x: { id: string }) => x.id);
    expect(listed.filter((id) => ids.includes(id))).toEqual(ids);
  });

  it('PATCH replaces each field it names whole, a record\'s "data" included, and keeps the others (README)', async () => {
    const rec = (await stack.call('POST', '/v1/records', { key: live, body: { name: 'm', data: { a: 1 } } })).body;
    const patched = await stack.call('PATCH', `/v1/records/${rec.id}`, { key: live, body: { data: { b: 2 } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'm', data: { b: 2 } });
  });

  it('lists every item, unpaged, and reads no query string (README: a small demo upstream)', async () => {
    for (let i = 0; i < 3; i++) await stack.call('POST', '/v1/prompts', { key: live2, body: { name: `p${i}`, template: 't' } });
    for (const query of ['?limit=1', '?bogus=1', '']) {
      const answer = await stack.call('GET', `/v1/prompts${query}`, { key: live2 });
      expect({ query, status: answer.status, names: answer.body.data?.map((p: { name: string }) => p.name) }).toEqual({ query, status: 200, names: ['p0', 'p1', 'p2'] });
    }
  });
});

describe('execute and analytics', () => {
  it('executes a flow (200 run), 404s a missing or deleted flow, validates the body', async () => {
    const flow = (await stack.call('POST', '/v1/flows', { key: live, body: { name: 'exec', steps: [{ name: 's1', action: 'a1' }, { name: 's2', action: 'a2' }] } })).body;
    const run = await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live, body: { input: { x: 1 } } });
    expect({ status: run.status, type: run.headers.get('content-type') }).toEqual({ status: 200, type: 'application/json' });
    expect(run.body).toEqual({
      id: expect.stringMatching(/^run_[0-9A-Z]{26}$/),
      flowId: flow.id,
      status: 'succeeded',
      output: { input: { x: 1 }, steps: [{ name: 's1', action: 'a1', status: 'succeeded' }, { name: 's2', action: 'a2', status: 'succeeded' }] },
      startedAt: expect.stringMatching(ISO),
      finishedAt: expect.stringMatching(ISO),
    });

    // No body at all: input is optional.
    const bare = await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live });
    expect(bare).toMatchObject({ status: 200, body: { output: { input: {} } } });

    expectJsonError(await stack.call('POST', '/v1/flows/flow_01ARZ3NDEKTSV4RRFFQ69G5FAV/execute', { key: live, body: {} }), 404, 'Flow flow_01ARZ3NDEKTSV4RRFFQ69G5FAV not found');
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live, body: { input: 'x' } }), 400, /^input: /);
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live, body: { input: [] } }), 400, /^input: /);
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live, body: { inputs: {} } }), 400, 'Unrecognized key: "inputs"');
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live, body: '{"input":' }), 400, 'Request body is not valid JSON');

    await stack.call('DELETE', `/v1/flows/${flow.id}`, { key: live });
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live, body: {} }), 404, `Flow ${flow.id} not found`);
  });

  it('a flow id of another resource type is simply not found', async () => {
    const rec = (await stack.call('POST', '/v1/records', { key: live, body: { name: 'r', data: {} } })).body;
    expectJsonError(await stack.call('GET', `/v1/flows/${rec.id}`, { key: live }), 404, `Flow ${rec.id} not found`);
    expectJsonError(await stack.call('POST', `/v1/flows/${rec.id}/execute`, { key: live, body: {} }), 404, `Flow ${rec.id} not found`);
    expectJsonError(await stack.call('GET', '/v1/prompts/nope', { key: live }), 404, 'Prompt nope not found');
    expectJsonError(await stack.call('GET', '/v1/records/nope', { key: live }), 404, 'Record nope not found');
  });

  it('answers the analytics summary per account and environment', async () => {
    const admin = await stack.createAccountAdmin('acc_analytics');
    const key = (await stack.createKey({ permissions: ALL }, admin.key)).key;
    const testKey = (await stack.createKey({ environment: 'test', permissions: ALL }, admin.key)).key;
    const empty = await stack.call('GET', '/v1/analytics', { key });
    expect({ status: empty.status, type: empty.headers.get('content-type'), body: empty.body }).toEqual({
      status: 200,
      type: 'application/json',
      body: { environment: 'live', flows: 0, flowRuns: 0, records: 0, prompts: 0, generatedAt: expect.stringMatching(ISO) },
    });
    const flow = (await stack.call('POST', '/v1/flows', { key, body: { name: 'f' } })).body;
    await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key, body: {} });
    await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key, body: {} });
    await stack.call('POST', '/v1/records', { key, body: { name: 'r', data: {} } });
    await stack.call('POST', '/v1/prompts', { key: testKey, body: { name: 'p', template: 't' } });
    expect((await stack.call('GET', '/v1/analytics', { key })).body).toMatchObject({ environment: 'live', flows: 1, flowRuns: 2, records: 1, prompts: 0 });
    expect((await stack.call('GET', '/v1/analytics', { key: testKey })).body).toMatchObject({ environment: 'test', flows: 0, flowRuns: 0, records: 0, prompts: 1 });
  });

  it.each([
    ['GET', '/v1/flows/'],
    ['POST', '/v1/flows//execute'],
    ['GET', '/v1/records/a/b'],
    ['GET', '/v1/prompts/x/'],
  ])('answers %s %s with a JSON 404 in the gateway\'s words', async (method, path) => {
    const answer = await stack.call(method, path, { key: live, body: method === 'POST' ? {} : undefined });
    expectJsonError(answer, 404, `No route for ${method} ${path}`);
  });

  it('unknown query parameters or sub-paths of analytics', async () => {
    const answer = await stack.call('GET', '/v1/analytics/flows', { key: live });
    expectJsonError(answer, 404, 'No route for GET /v1/analytics/flows');
  });
});

describe('bad bodies (DESIGN §6: 400 naming the field, {"error","details"} as application/json)', () => {
  const cases: [string, string, unknown, string | RegExp][] = [
    ['flows', 'wrong type name', { name: 42 }, 'name: Invalid input: expected string, received number'],
    ['flows', 'empty name', { name: '' }, 'name: must not be empty'],
    ['flows', 'blank name', { name: '   ' }, 'name: must not be empty'],
    ['flows', 'long name', { name: 'x'.repeat(201) }, 'name: must be at most 200 characters'],
    ['flows', 'steps not array', { name: 'x', steps: 'a' }, /^steps: /],
    ['flows', 'step unknown field', { name: 'x', steps: [{ name: 'a', action: 'b', extra: 1 }] }, /^steps\[0\]: Unrecognized key: "extra"$/],
    ['flows', 'step empty action', { name: 'x', steps: [{ name: 'a', action: '' }] }, 'steps[0].action: must not be empty'],
    ['flows', 'description wrong type', { name: 'x', description: 5 }, /^description: /],
    ['flows', 'description null', { name: 'x', description: null }, /^description: /],
    ['flows', 'unknown top-level field', { name: 'x', id: 'flow_mine' }, /"id"/],
    ['flows', 'createdAt supplied', { name: 'x', createdAt: '2020-01-01T00:00:00.000Z' }, /"createdAt"/],
    ['records', 'data wrong type', { name: 'x', data: 'y' }, /^data: /],
    ['records', 'data array', { name: 'x', data: [1] }, /^data: /],
    ['records', 'data missing', { name: 'x' }, /^data: /],
    ['prompts', 'template empty', { name: 'x', template: '' }, 'template: must not be empty'],
    ['prompts', 'model wrong type', { name: 'x', template: 't', model: 1 }, /^model: /],
    ['records', 'array body', [{ name: 'x', data: {} }], /expected object, received array/],
    ['records', 'string body', '"x"', /expected object/],
    ['records', 'number body', '42', /expected object/],
    ['records', 'null body', 'null', /./],
    ['records', 'invalid JSON', '{"name": "x",}', 'Request body is not valid JSON'],
    ['records', 'trailing garbage', '{"name":"x","data":{}} x', 'Request body is not valid JSON'],
  ];
  it.each(cases)('POST /v1/%s with %s', async (resource, _case, body, details) => {
    const answer = await stack.call('POST', `/v1/${resource}`, { key: live, body });
    expectJsonError(answer, 400, details);
    expect(answer.body.error).toBe('Bad Request');
    expect(answer.headers.get('x-ratelimit-limit')).toBe('1000');
  });

  it.each([
    ['null', 'null'],
    ['an array', '[]'],
    ['a string', '"x"'],
    ['an unknown field', '{"nmae":"x"}'],
    ['an empty name', '{"name":""}'],
  ])('PATCH with %s is 400 and changes nothing', async (_case, body) => {
    const flow = (await stack.call('POST', '/v1/flows', { key: live, body: { name: 'keep' } })).body;
    const answer = await stack.call('PATCH', `/v1/flows/${flow.id}`, { key: live, body });
    expectJsonError(answer, 400);
    expect((await stack.call('GET', `/v1/flows/${flow.id}`, { key: live })).body).toEqual(flow);
  });

  it('execute with a JSON null body is a 400, not a run', async () => {
    const flow = (await stack.call('POST', '/v1/flows', { key: live, body: { name: 'null run' } })).body;
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: live, body: 'null' }), 400);
  });

  it('PUT with a partial body is 400 naming the missing field', async () => {
    const prompt = (await stack.call('POST', '/v1/prompts', { key: live, body: { name: 'full', template: 't' } })).body;
    expectJsonError(await stack.call('PUT', `/v1/prompts/${prompt.id}`, { key: live, body: { name: 'only name' } }), 400, 'template: Invalid input: expected string, received undefined');
  });

  it('a body that is not declared JSON is a JSON 4xx, not accepted', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      const answer = await stack.call('POST', '/v1/flows', { key: live, body: '{"name":"x"}', headers: { 'content-type': contentType } });
      expect([400, 415]).toContain(answer.status);
      expectJsonError(answer, answer.status);
    }
  });

  it('POST with Content-Type: application/json and an empty body is a JSON 400', async () => {
    const answer = await stack.call('POST', '/v1/flows', { key: live, headers: { 'content-type': 'application/json' } });
    expectJsonError(answer, 400);
  });

  it('a record with a large but allowed body is stored and listed', async () => {
    const body = { name: 'big', data: { blob: 'x'.repeat(1024 * 1024 - 100) } };
    const created = await stack.call('POST', '/v1/records', { key: other, body });
    expect(created.status).toBe(201);
  });

  it('a deeply nested record "data" is either refused with 400 or stored and served; never a 500 that still stores it and breaks the list', async () => {
    const depth = 6000; // about 36 KB, far under the 1 MiB body limit
    const body = `{"name":"deep","data":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    const key = (await stack.createKey({ permissions: ALL }, (await stack.createAccountAdmin('acc_deep')).key)).key;
    const created = await stack.call('POST', '/v1/records', { key, body });
    const list = await stack.call('GET', '/v1/records', { key });
    const analytics = await stack.call('GET', '/v1/analytics', { key });
    expect({ post: created.status, list: list.status, stored: analytics.body.records }).toEqual(
      created.status === 400 ? { post: 400, list: 200, stored: 0 } : { post: 201, list: 200, stored: 1 },
    );
  });

  it('a deeply nested execute "input" is either refused with 400 or run and answered; never a 500 that still records the run', async () => {
    const depth = 6000;
    const key = (await stack.createKey({ permissions: ALL }, (await stack.createAccountAdmin('acc_deep_run')).key)).key;
    const flow = (await stack.call('POST', '/v1/flows', { key, body: { name: 'deep run' } })).body;
    const run = await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key, body: `{"input":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}` });
    const analytics = await stack.call('GET', '/v1/analytics', { key });
    expect({ run: run.status, runs: analytics.body.flowRuns }).toEqual(run.status === 400 ? { run: 400, runs: 0 } : { run: 200, runs: 1 });
  });

  it('accepts application/json with a charset parameter', async () => {
    const answer = await stack.call('POST', '/v1/flows', { key: live, body: '{"name":"charset"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(answer.status).toBe(201);
  });

  it('a "__proto__" key in record data is a JSON answer, 201 or 400', async () => {
    const answer = await stack.call('POST', '/v1/records', { key: live, body: '{"name":"proto","data":{"__proto__":{"polluted":true}}}' });
    expect([201, 400]).toContain(answer.status);
    expect(answer.headers.get('content-type')).toBe('application/json');
    if (answer.status === 400) expectJsonError(answer, 400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('isolation: environment and account (DESIGN §3, demo-api README)', () => {
  it.each(RESOURCES)('$path: a live object is invisible and untouchable with a test key, and the other way round', async (r) => {
    const mine = (await stack.call('POST', r.path, { key: live, body: r.full })).body;
    const theirs = (await stack.call('POST', r.path, { key: test, body: r.full })).body;
    for (const [key, id] of [[test, mine.id], [live, theirs.id]]) {
      for (const [method, body] of [['GET'], ['PUT', r.required], ['PATCH', r.patch], ['DELETE']] as const) {
        expectJsonError(await stack.call(method, `${r.path}/${id}`, { key, body }), 404, `${r.noun} ${id} not found`);
      }
    }
    expect((await stack.call('GET', r.path, { key: test })).body.data.map((x: { id: string }) => x.id)).not.toContain(mine.id);
    expect((await stack.call('GET', r.path, { key: live })).body.data.map((x: { id: string }) => x.id)).not.toContain(theirs.id);
    expect((await stack.call('GET', `${r.path}/${mine.id}`, { key: live })).body).toEqual(mine);
  });

  it.each(RESOURCES)('$path: another account sees nothing of this one, and a second key of the same account sees everything', async (r) => {
    const mine = (await stack.call('POST', r.path, { key: live, body: r.full })).body;
    for (const [method, body] of [['GET'], ['PUT', r.required], ['PATCH', r.patch], ['DELETE']] as const) {
      expectJsonError(await stack.call(method, `${r.path}/${mine.id}`, { key: other, body }), 404, `${r.noun} ${mine.id} not found`);
    }
    expect((await stack.call('GET', r.path, { key: other })).body.data.map((x: { id: string }) => x.id)).not.toContain(mine.id);
    expect((await stack.call('GET', `${r.path}/${mine.id}`, { key: live2 })).body).toEqual(mine);
  });

  it('another account cannot execute a flow, and its analytics do not count ours', async () => {
    const flow = (await stack.call('POST', '/v1/flows', { key: live, body: { name: 'mine' } })).body;
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: other, body: {} }), 404, `Flow ${flow.id} not found`);
    expectJsonError(await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: test, body: {} }), 404, `Flow ${flow.id} not found`);
  });

  it('a client-sent X-Keyplane-Account-Id cannot reach another account', async () => {
    const flow = (await stack.call('POST', '/v1/flows', { key: live, body: { name: 'spoof target' } })).body;
    const answer = await stack.call('GET', `/v1/flows/${flow.id}`, { key: other, headers: { 'X-Keyplane-Account-Id': 'acc_root', 'X-Keyplane-Environment': 'live' } });
    expectJsonError(answer, 404);
  });
});

describe('route permissions on the positive path (DESIGN §4 table)', () => {
  it('each exact permission opens its routes and only those', async () => {
    const [recW, recR, promptW, promptR, exec, analytics] = await Promise.all(
      [['RECORDS:WRITE'], ['RECORDS:READ'], ['PROMPTS:WRITE'], ['PROMPTS:READ'], ['FLOWS:EXECUTE'], ['ANALYTICS:READ']].map(async (permissions) => (await stack.createKey({ permissions })).key),
    );
    const rec = await stack.call('POST', '/v1/records', { key: recW, body: { name: 'w', data: {} } });
    expect(rec.status).toBe(201);
    expect((await stack.call('PUT', `/v1/records/${rec.body.id}`, { key: recW, body: { name: 'w2', data: {} } })).status).toBe(200);
    expect((await stack.call('PATCH', `/v1/records/${rec.body.id}`, { key: recW, body: { name: 'w3' } })).status).toBe(200);
    expect((await stack.call('GET', `/v1/records/${rec.body.id}`, { key: recR })).body.name).toBe('w3');
    expect((await stack.call('GET', '/v1/records', { key: recW })).body).toEqual({ error: 'Forbidden', details: 'Missing required permission: RECORDS:READ' });
    expect((await stack.call('DELETE', `/v1/records/${rec.body.id}`, { key: recR })).body).toEqual({ error: 'Forbidden', details: 'Missing required permission: RECORDS:WRITE' });
    expect((await stack.call('DELETE', `/v1/records/${rec.body.id}`, { key: recW })).status).toBe(200);

    const prompt = await stack.call('POST', '/v1/prompts', { key: promptW, body: { name: 'p', template: 't' } });
    expect(prompt.status).toBe(201);
    expect((await stack.call('GET', '/v1/prompts', { key: promptR })).body.data.map((p: { id: string }) => p.id)).toContain(prompt.body.id);
    expect((await stack.call('PATCH', `/v1/prompts/${prompt.body.id}`, { key: promptR, body: {} })).body).toEqual({ error: 'Forbidden', details: 'Missing required permission: PROMPTS:WRITE' });

    const flow = (await stack.call('POST', '/v1/flows', { key: live, body: { name: 'for exec' } })).body;
    expect((await stack.call('POST', `/v1/flows/${flow.id}/execute`, { key: exec, body: {} })).status).toBe(200);
    expect((await stack.call('GET', `/v1/flows/${flow.id}`, { key: exec })).status).toBe(403);
    expect((await stack.call('GET', '/v1/analytics', { key: analytics })).status).toBe(200);
    expect((await stack.call('GET', '/v1/flows', { key: analytics })).status).toBe(403);
  });
});

// ---------------------------------------------------------------------------------------------
// The dashboard

/** Sends the request line as written: fetch would normalize dot segments away. */
const raw = (method: string, target: string, extra = '') => rawRequest(stack.gateway.url, `${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`);

describe('the dashboard (gateway README, DESIGN §4)', () => {
  it('serves / and /index.html unauthenticated, as the same HTML page', async () => {
    for (const path of ['/', '/index.html', '/?x=1', '/index.html?from=bookmark']) {
      const response = await fetch(`${stack.gateway.url}${path}`);
      expect({ path, status: response.status, type: response.headers.get('content-type') }).toEqual({ path, status: 200, type: 'text/html; charset=utf-8' });
      expect(await response.text()).toBe(dashboardHtml);
      expect(response.headers.get('x-ratelimit-limit')).toBeNull();
    }
    expect(dashboardHtml).toMatch(/^<!doctype html>/i);
    // A stale or garbage Authorization header does not stop the page loading.
    expect((await fetch(`${stack.gateway.url}/`, { headers: { authorization: 'Bearer nonsense' } })).status).toBe(200);
    const head = await raw('HEAD', '/');
    expect({ status: head.status, type: head.headers['content-type'], body: head.body }).toEqual({ status: 200, type: 'text/html; charset=utf-8', body: '' });
  });

  it('sends the security headers a page that takes an admin key should have', async () => {
    const response = await fetch(`${stack.gateway.url}/`);
    const headers = Object.fromEntries(['content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'cache-control'].map((h) => [h, response.headers.get(h)]));
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['content-security-policy']).not.toBeNull();
    // Clickjacking: either frame-ancestors in the CSP or X-Frame-Options.
    expect(/frame-ancestors/.test(headers['content-security-policy'] ?? '') || /^(DENY|SAMEORIGIN)$/i.test(headers['x-frame-options'] ?? '')).toBe(true);
    expect(headers['referrer-policy']).not.toBeNull();
    expect(headers['cache-control']).not.toBeNull();
  });

  it('keeps the key out of URLs, storage and logs, and calls only the management API with a Bearer header', () => {
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(dashboardHtml)?.[1] ?? '';
    expect(script).not.toBe('');
    expect(script).not.toMatch(/localStorage|sessionStorage|indexedDB|document\.cookie|console\.|location\.(href|search|hash)\s*=|history\./);
    const fetches = [...script.matchAll(/fetch\(\s*(['`"])(.*?)\1/g)].map((m) => m[2]);
    expect(fetches).toEqual(['/v1/api-keys?${query}']);
    expect(script).toMatch(/new URLSearchParams\(cursor \? \{ limit: '1000', cursor \} : \{ limit: '1000' \}\)/);
    expect(script).toMatch(/Authorization: `Bearer \$\{/);
    // The key input has no name, so a submit without JS (a GET form) cannot put it in a URL.
    const input = /<input[^>]*id="key"[^>]*>/.exec(dashboardHtml)?.[0] ?? '';
    expect(input).toMatch(/type="password"/);
    expect(input).not.toMatch(/\sname=/);
    // No innerHTML with server data (XSS via a key name).
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('shows every key: follows nextCursor, or says the list is cut short', () => {
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(dashboardHtml)?.[1] ?? '';
    expect(script).toMatch(/nextCursor/);
  });

  it('copes with an answer that is not JSON or a failed fetch (shows a message, no unhandled rejection)', () => {
    const script = /<script type="module">([\s\S]*?)<\/script>/.exec(dashboardHtml)?.[1] ?? '';
    expect(script).toMatch(/catch/);
  });

  it('gets what it renders from the API: the key fields on 200, {error, details} on 401/403', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/api-keys?limit=100`, { headers: { Authorization: `Bearer ${stack.adminKey}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: Record<string, unknown>[] };
    for (const key of body.data) {
      expect(key).toMatchObject({ name: expect.any(String), id: expect.any(String), prefix: expect.any(String), last4: expect.any(String), environment: expect.any(String), permissions: expect.any(Array), status: expect.any(String), createdAt: expect.any(String) });
      expect(key).not.toHaveProperty('key');
    }
    const bad = await fetch(`${stack.gateway.url}/v1/api-keys?limit=100`, { headers: { Authorization: 'Bearer ' } });
    expect(await bad.json()).toEqual({ error: 'Unauthorized', details: 'Invalid or missing API key' });
    const forbidden = await fetch(`${stack.gateway.url}/v1/api-keys?limit=100`, { headers: { Authorization: `Bearer ${live}` } });
    expect({ status: forbidden.status, body: await forbidden.json() }).toEqual({ status: 403, body: { error: 'Forbidden', details: 'Missing required permission: KEYS:READ' } });
  });

  it.each([
    '/..%2fpackage.json',
    '/%2e%2e/package.json',
    '/%2e%2e%2fpackage.json',
    '/index.html/..',
    '/index.html/../package.json',
    '/../package.json',
    '/./index.html',
    '/index.html/',
    '/INDEX.HTML',
    '/index.htm',
    '/public/index.html',
    '/apps/gateway/public/index.html',
    '/favicon.ico',
    '/robots.txt',
    '/..%5cpackage.json',
    '/%2fetc%2fpasswd',
  ])('answers %s with the JSON 404 (or a JSON 400), never a file', async (target) => {
    const answer = await raw('GET', target);
    expect([400, 404]).toContain(answer.status);
    expect(answer.headers['content-type']).toBe('application/json');
    const body = JSON.parse(answer.body);
    expect(Object.keys(body).sort()).toEqual(['details', 'error']);
    if (answer.status === 404) expect(body).toEqual({ error: 'Not Found', details: `No route for GET ${target}` });
    expect(answer.body).not.toMatch(/"name"\s*:\s*"keyplane|<!doctype|root:/i);
  });

  it('answers other methods on the dashboard paths with a JSON 404', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const answer = await raw(method, '/', 'Content-Length: 0\r\n');
      expect({ method, status: answer.status, type: answer.headers['content-type'], body: answer.body }).toEqual({
        method,
        status: 404,
        type: 'application/json',
        body: `{"error":"Not Found","details":"No route for ${method} /"}`,
      });
    }
  });
});
