import { readFileSync } from 'node:fs';
import { startStack, type Answer, type Stack } from './stack.js';

// The demo upstream `npm start` protects, as a developer evaluating Keyplane uses it through the
// gateway: every upstream row of the shipped route table is served, creates say where the object
// lives, and what one account and environment can store is bounded (apps/demo-api/README.md).

interface RouteRow {
  methods: string[];
  path: string;
  target: string;
}

const ROUTES = (JSON.parse(readFileSync(new URL('../../gateway/config/routes.json', import.meta.url), 'utf8')) as { routes: RouteRow[] }).routes;
const UPSTREAM_CALLS = ROUTES.filter((row) => row.target === 'upstream').flatMap((row) => row.methods.map((method) => [method, row.path] as const));

const ALL = ['FLOWS:*', 'RECORDS:*', 'PROMPTS:*', 'ANALYTICS:READ'];

/** A full body for POST and PUT, and a change for PATCH, per collection. */
const BODIES: Record<string, { full: Record<string, unknown>; patch: Record<string, unknown> }> = {
  '/v1/flows': { full: { name: 'nightly', steps: [{ name: 'fetch', action: 'http.get' }] }, patch: { description: 'changed' } },
  '/v1/records': { full: { name: 'customer', data: { plan: 'pro' } }, patch: { name: 'renamed' } },
  '/v1/prompts': { full: { name: 'greeting', template: 'Hello {{name}}' }, patch: { model: 'small' } },
};

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('e2e_demo_contract');
});

afterAll(() => stack?.close());

async function keyOf(accountId: string, environment: 'live' | 'test' = 'live'): Promise<string> {
  const admin = await stack.createAccountAdmin(accountId);
  return (await stack.createKey({ environment, permissions: ALL }, admin.key)).key;
}

const collectionOf = (path: string) => /^\/v1\/[a-z]+/.exec(path)![0];

function bodyFor(method: string, path: string): unknown {
  if (path.endsWith('/execute')) return { input: { day: 1 } };
  const bodies = BODIES[collectionOf(path)];
  if (method === 'POST' || method === 'PUT') return bodies?.full;
  if (method === 'PATCH') return bodies?.patch;
  return undefined;
}

describe('the shipped route table (apps/gateway/config/routes.json)', () => {
  it('names upstream routes for every resource of DESIGN §4', () => {
    expect(new Set(UPSTREAM_CALLS.map(([, path]) => collectionOf(path)))).toEqual(new Set(['/v1/flows', '/v1/records', '/v1/prompts', '/v1/analytics']));
  });

  it.each(UPSTREAM_CALLS)('%s %s is served by the demo API: a JSON 2xx, never a 404 or 405 for a route the table authorizes', async (method, path) => {
    let target = path;
    if (path.includes(':id')) {
      const collection = collectionOf(path);
      const created = await stack.call('POST', collection, { body: BODIES[collection]!.full });
      expect(created.status).toBe(201);
      target = path.replace(':id', created.body.id);
    }
    const answer = await stack.call(method, target, { body: bodyFor(method, path) });
    const expected = method === 'POST' && !path.includes(':id') ? 201 : 200;
    expect({ status: answer.status, type: answer.headers.get('content-type') }).toEqual({ status: expected, type: 'application/json' });
    expect(answer.body).not.toHaveProperty('error');
  });
});

describe('create says where the object lives', () => {
  it.each(Object.keys(BODIES))('POST %s answers 201 with Location: the path that reads the object back', async (collection) => {
    const created = await stack.call('POST', collection, { body: BODIES[collection]!.full });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${collection}/${created.body.id}`);
    const read = await stack.call('GET', created.headers.get('location')!);
    expect({ status: read.status, body: read.body }).toEqual({ status: 200, body: created.body });
  });

  it('a refused create carries no Location', async () => {
    const refused = await stack.call('POST', '/v1/flows', { body: { name: '' } });
    expect({ status: refused.status, location: refused.headers.get('location') }).toEqual({ status: 400, location: null });
  });
});

describe('PATCH reads its body as a JSON Merge Patch (RFC 7396)', () => {
  it.each([
    ['/v1/flows', { name: 'f', description: 'd', steps: [{ name: 's', action: 'a' }] }, { description: null, steps: null }, { name: 'f' }],
    ['/v1/prompts', { name: 'p', template: 't', model: 'm' }, { model: null, template: 'u' }, { name: 'p', template: 'u' }],
  ])('%s: null removes an optional field, the others are replaced', async (collection, full, patch, left) => {
    const created = (await stack.call('POST', collection, { body: full })).body;
    const patched = await stack.call('PATCH', `${collection}/${created.id}`, { body: patch });
    expect({ status: patched.status, body: patched.body }).toEqual({
      status: 200,
      body: { id: created.id, ...left, createdAt: created.createdAt, updatedAt: expect.any(String) },
    });
    expect((await stack.call('GET', `${collection}/${created.id}`)).body).toEqual(patched.body);
  });

  it.each([
    ['/v1/flows', { name: 'f' }, { name: null }, 'name: Invalid input: expected string, received null'],
    ['/v1/records', { name: 'r', data: { a: 1 } }, { data: null }, 'data: Invalid input: expected record, received null'],
  ])('%s: null for a required field is a 400 naming it, and changes nothing', async (collection, full, patch, details) => {
    const created = (await stack.call('POST', collection, { body: full })).body;
    const refused = await stack.call('PATCH', `${collection}/${created.id}`, { body: patch });
    expect({ status: refused.status, body: refused.body }).toEqual({ status: 400, body: { error: 'Bad Request', details } });
    expect((await stack.call('GET', `${collection}/${created.id}`)).body).toEqual(created);
  });
});

describe('what one account and environment can store is bounded (demo-api README)', () => {
  // About 1 MB each, under the gateway's 1 MiB body limit: eight fit in the 8 MiB a collection holds, a ninth does not.
  const big = (name: string) => ({ name, data: { blob: 'x'.repeat(1_000_000) } });

  function expectFull(answer: Answer, details: string) {
    expect(answer.status).toBe(409); // first, so a stored record is not printed whole
    expect({ status: answer.status, type: answer.headers.get('content-type'), body: answer.body }).toEqual({
      status: 409,
      type: 'application/json',
      body: { error: 'Conflict', details },
    });
  }

  it('refuses, with a 409 saying what to do, a record that would take a collection over 8 MiB; other tenants keep their own room', async () => {
    const live = await keyOf('acc_bytes');
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const created = await stack.call('POST', '/v1/records', { key: live, body: big(`r${i}`) });
      expect(created.status).toBe(201);
      ids.push(created.body.id);
    }
    const full = 'Too much data in records: an account keeps at most 8 MiB of them per environment; delete some first';
    expectFull(await stack.call('POST', '/v1/records', { key: live, body: big('one too many') }), full);
    expect((await stack.call('GET', '/v1/analytics', { key: live })).body.records).toBe(8);

    // A change that would grow a small record past the budget is refused and changes nothing.
    const small = (await stack.call('POST', '/v1/records', { key: live, body: { name: 'small', data: {} } })).body;
    expectFull(await stack.call('PATCH', `/v1/records/${small.id}`, { key: live, body: { data: { blob: 'y'.repeat(1_000_000) } } }), full);
    expect((await stack.call('GET', `/v1/records/${small.id}`, { key: live })).body).toEqual(small);

    // The same account's test data, and another account, have budgets of their own.
    expect((await stack.call('POST', '/v1/records', { key: await keyOf('acc_bytes', 'test'), body: big('test side') })).status).toBe(201);
    expect((await stack.call('POST', '/v1/records', { key: await keyOf('acc_bytes_other'), body: big('elsewhere') })).status).toBe(201);

    // Deleting makes room again.
    expect((await stack.call('DELETE', `/v1/records/${ids[0]}`, { key: live })).status).toBe(200);
    expect((await stack.call('POST', '/v1/records', { key: live, body: big('after delete') })).status).toBe(201);
  });
});
