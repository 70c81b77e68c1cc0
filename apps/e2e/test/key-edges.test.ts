/* eslint-disable @typescript-eslint/no-explicit-any */
import pg from 'pg';
import { fingerprint, generateKey } from '@keyplane/key-format';
import { sleep, startStack, type Answer, type Stack } from './stack.js';

// DESIGN §3, §4 and the key calls of §7 at their edges (docs/api.md where DESIGN is silent):
// bad input of every field, lifecycle corners, grant rules, other accounts, the exact key object.

let stack: Stack;
let pool: pg.Pool;
/** A key of another account (acc_other), issued straight through the keys service: the API cannot make accounts. */
let other: { key: string; id: string };

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const KEY_ID = /^key_[0-9A-HJKMNP-TV-Z]{26}$/;
const FIELDS = ['id', 'accountId', 'name', 'environment', 'prefix', 'last4', 'permissions', 'rateLimits', 'status', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt'];

beforeAll(async () => {
  stack = await startStack('e2e_key_edges');
  pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  other = await stack.createAccountAdmin('acc_other');
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await stack?.close();
});

async function eventCount(): Promise<number> {
  const { rows } = await pool.query('select count(*)::int as n from keys.events');
  return rows[0].n;
}

/** The exact key object of DESIGN §7, plus `extra` fields (key, previousKeyExpiresAt). */
function expectKeyObject(object: any, extra: string[] = []) {
  expect(Object.keys(object).sort()).toEqual([...FIELDS, ...extra].sort());
  expect(object.id).toMatch(KEY_ID);
  expect(object.accountId).toMatch(/^acc_/);
  expect(typeof object.name).toBe('string');
  expect(['live', 'test']).toContain(object.environment);
  expect(object.prefix).toMatch(new RegExp(`^tv_${object.environment}_[0-9A-Za-z]{4}$`));
  expect(object.last4).toMatch(/^[0-9A-Za-z]{4}$/);
  expect(Array.isArray(object.permissions)).toBe(true);
  expect(Object.keys(object.rateLimits).sort()).toEqual(['day', 'hour']);
  expect(['active', 'revoked', 'expired']).toContain(object.status);
  expect(object.createdAt).toMatch(ISO);
  for (const field of ['expiresAt', 'revokedAt', 'lastUsedAt']) if (object[field] !== null) expect(object[field]).toMatch(ISO);
}

/** A 400 `{"error":"Bad Request","details":"<field>..."}` as JSON. */
function expectBadRequest(answer: Answer, field: string | RegExp) {
  expect({ status: answer.status, error: answer.body?.error, details: answer.body?.details, contentType: answer.headers.get('content-type') }).toEqual({
    status: 400,
    error: 'Bad Request',
    details: expect.any(String),
    contentType: 'application/json',
  });
  expect(Object.keys(answer.body).sort()).toEqual(['details', 'error']);
  if (typeof field === 'string') expect(answer.body.details.startsWith(field)).toBe(true);
  else expect(answer.body.details).toMatch(field);
}

const notFound = (id: string) => ({ status: 404, body: { error: 'Not Found', details: `API key ${id} not found` } });
const pick = (a: Answer) => ({ status: a.status, body: a.body });

describe('create: bad input is a 400 naming the field, and stores nothing', () => {
  const base = { name: 'probe', permissions: ['FLOWS:READ'] };
  it.each([
    ['name null', { ...base, name: null }, 'name'],
    ['name number', { ...base, name: 5 }, 'name'],
    ['name empty', { ...base, name: '' }, 'name'],
    ['name 201 chars', { ...base, name: 'x'.repeat(201) }, 'name'],
    ['name 100k chars', { ...base, name: 'x'.repeat(100_000) }, 'name'],
    ['name with NUL', { ...base, name: 'a\u0000b' }, 'name'],
    ['name with a lone surrogate', { ...base, name: 'a\ud800b' }, 'name'],
    ['environment null', { ...base, environment: null }, 'environment'],
    ['environment LIVE', { ...base, environment: 'LIVE' }, 'environment'],
    ['permissions null', { ...base, permissions: null }, 'permissions'],
    ['permissions missing', { name: 'x' }, 'permissions'],
    ['permissions object', { ...base, permissions: { 0: 'FLOWS:READ' } }, 'permissions'],
    ['permission null', { ...base, permissions: ['FLOWS:READ', null] }, 'permissions[1]'],
    ['permission lower case', { ...base, permissions: ['flows:read'] }, 'permissions[0]'],
    ['permission with space', { ...base, permissions: ['FLOWS:READ '] }, 'permissions[0]'],
    ['permission ANALYTICS:*', { ...base, permissions: ['FLOWS:READ', 'ANALYTICS:*'] }, 'permissions[1]'],
    ['permission AUDIT:*', { ...base, permissions: ['AUDIT:*'] }, 'permissions[0]'],
    ['permission duplicate', { ...base, permissions: ['FLOWS:READ', 'FLOWS:READ'] }, 'permissions[1]'],
    ['rateLimits null', { ...base, rateLimits: null }, 'rateLimits'],
    ['rateLimits array', { ...base, rateLimits: [1, 2] }, 'rateLimits'],
    ['rateLimits.hour 0', { ...base, rateLimits: { hour: 0 } }, 'rateLimits.hour'],
    ['rateLimits.day negative', { ...base, rateLimits: { day: -5 } }, 'rateLimits.day'],
    ['rateLimits.hour fractional', { ...base, rateLimits: { hour: 1.5 } }, 'rateLimits.hour'],
    ['rateLimits.hour string', { ...base, rateLimits: { hour: '100' } }, 'rateLimits.hour'],
    ['rateLimits.hour null', { ...base, rateLimits: { hour: null } }, 'rateLimits.hour'],
    ['rateLimits.day huge', { ...base, rateLimits: { day: 1e15 } }, 'rateLimits.day'],
    ['rateLimits.hour 1e308', { ...base, rateLimits: { hour: 1e308 } }, 'rateLimits.hour'],
    ['rateLimits unknown field', { ...base, rateLimits: { minute: 5 } }, 'rateLimits'],
    ['expiresAt number', { ...base, expiresAt: 1893456000 }, 'expiresAt'],
    ['expiresAt date only', { ...base, expiresAt: '2030-01-01' }, 'expiresAt'],
    ['expiresAt without zone', { ...base, expiresAt: '2030-01-01T00:00:00' }, 'expiresAt'],
    ['expiresAt impossible day', { ...base, expiresAt: '2030-02-30T00:00:00Z' }, 'expiresAt'],
    ['expiresAt in the past with offset', { ...base, expiresAt: '2020-01-01T00:00:00+05:00' }, 'expiresAt'],
    ['expiresAt empty', { ...base, expiresAt: '' }, 'expiresAt'],
    ['unknown field accountId', { ...base, accountId: 'acc_other' }, /accountId/],
    ['unknown field status', { ...base, status: 'revoked' }, /status/],
  ])('%s', async (_case, body, field) => {
    const before = await eventCount();
    const answer = await stack.call('POST', '/v1/api-keys', { body });
    expectBadRequest(answer, field);
    expect(await eventCount()).toBe(before);
  });

  it.each([
    ['a JSON array', '[]'],
    ['a JSON string', '"name"'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
    ['a JSON array of the right object', JSON.stringify([base])],
  ])('a body that is %s is a 400', async (_case, raw) => {
    const before = await eventCount();
    const answer = await stack.call('POST', '/v1/api-keys', { body: raw });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('Bad Request');
    expect(await eventCount()).toBe(before);
  });

  it('an empty body is a 400 naming a missing field', async () => {
    const answer = await stack.call('POST', '/v1/api-keys', { body: '' , headers: { 'content-type': 'application/json' } });
    expectBadRequest(answer, /^(name|permissions|Request body)/);
  });

  it('an expiresAt far in the future with an offset is accepted (or refused with a 400), never a 5xx', async () => {
    const before = await eventCount();
    const answer = await stack.call('POST', '/v1/api-keys', { body: { ...base, expiresAt: '9999-12-31T23:59:59-23:59' } });
    expect([201, 400]).toContain(answer.status);
    if (answer.status === 400) {
      expectBadRequest(answer, 'expiresAt');
      expect(await eventCount()).toBe(before);
    }
  });

  it('a name close to the 1 MiB body limit is a 400 naming the field, not a 5xx', async () => {
    const answer = await stack.call('POST', '/v1/api-keys', { body: { ...base, name: 'x'.repeat(1024 * 1024 - 200) } });
    expectBadRequest(answer, 'name');
  });

  it('a name of exactly 200 characters is accepted, and an expiresAt with an offset is stored in UTC', async () => {
    const created = await stack.call('POST', '/v1/api-keys', { body: { ...base, name: 'n'.repeat(200), expiresAt: '2030-01-01T01:00:00+01:00' } });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe('n'.repeat(200));
    expect(created.body.expiresAt).toBe('2030-01-01T00:00:00.000Z');
  });

  it('the 1e9 rate-limit ceiling is accepted', async () => {
    const created = await stack.call('POST', '/v1/api-keys', { body: { ...base, rateLimits: { hour: 1_000_000_000, day: 1_000_000_000 } } });
    expect(created.status).toBe(201);
    expect(created.body.rateLimits).toEqual({ hour: 1_000_000_000, day: 1_000_000_000 });
  });
});

describe('list: query parameters', () => {
  it.each([
    ['limit=-1', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=1&limit=2', 'limit'],
    ['cursor=', 'cursor'],
    ['cursor=not-a-cursor', 'cursor'],
    [`cursor=${'A'.repeat(600)}`, 'cursor'],
    [`cursor=${Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000Z', 'key_x'])).toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from(JSON.stringify({ a: 1 })).toString('base64url')}`, 'cursor'],
    ['status=ACTIVE', 'status'],
    ['environment=', 'environment'],
  ])('%s is a 400 naming the parameter', async (query, field) => {
    expectBadRequest(await stack.call('GET', `/v1/api-keys?${query}`), field);
  });

  it('limit=1000 is accepted', async () => {
    const answer = await stack.call('GET', '/v1/api-keys?limit=1000');
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.body).sort()).toEqual(['data', 'nextCursor']);
  });

  it('pages through every key exactly once, newest first, and every item is a bare key object', async () => {
    for (let i = 0; i < 5; i++) await stack.createKey({ name: `page-${i}`, environment: 'test', permissions: ['FLOWS:READ'] });
    const all = await stack.call('GET', '/v1/api-keys?environment=test&limit=1000');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Answer = await stack.call('GET', `/v1/api-keys?environment=test&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      for (const item of page.body.data) {
        expectKeyObject(item);
        seen.push(item.id);
      }
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.data.map((k: any) => k.id));
    const created = all.body.data.map((k: any) => Date.parse(k.createdAt));
    expect(created).toEqual([...created].sort((a, b) => b - a));
  });

  it('a cursor of one filter used with another does not fail with a 5xx', async () => {
    const first = await stack.call('GET', '/v1/api-keys?limit=1');
    const answer = await stack.call('GET', `/v1/api-keys?status=revoked&limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect([200, 400]).toContain(answer.status);
  });

  it('an audit cursor is not a list cursor', async () => {
    const audit = await stack.call('GET', '/v1/audit/events?limit=1');
    expect(audit.body.nextCursor).toEqual(expect.any(String));
    expectBadRequest(await stack.call('GET', `/v1/api-keys?cursor=${encodeURIComponent(audit.body.nextCursor)}`), 'cursor');
  });

  it('status filters read expiry: an expired key is listed under expired, not under active', async () => {
    const { id } = await stack.createKey({ name: 'soon expired', permissions: ['FLOWS:READ'], expiresAt: new Date(Date.now() + 800).toISOString() });
    await sleep(1200);
    const active = await stack.call('GET', '/v1/api-keys?status=active&limit=1000');
    const expired = await stack.call('GET', '/v1/api-keys?status=expired&limit=1000');
    expect(active.body.data.map((k: any) => k.id)).not.toContain(id);
    expect(expired.body.data.find((k: any) => k.id === id)).toMatchObject({ id, status: 'expired' });
    expect(expired.body.data.every((k: any) => k.status === 'expired')).toBe(true);
  });
});

describe('ids', () => {
  it.each([
    ['key_x', 'key_x'],
    ['lower-case ulid', 'key_01j0000000000000000000zzzz'],
    ['no prefix', '01J0000000000000000000ZZZZ'],
    ['very long', `key_${'A'.repeat(5000)}`],
    ['url-encoded garbage', '%00%01'],
  ])('a malformed id (%s) names no key: 404 on every key call, as a missing key', async (_case, id) => {
    const details = `API key ${decodeURIComponent(id)} not found`;
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PATCH', '', { name: 'x' }],
      ['DELETE', '', undefined],
      ['POST', '/rotate', {}],
      ['POST', '/revoke', {}],
    ] as const) {
      const answer = await stack.call(method, `/v1/api-keys/${id}${suffix}`, { body });
      expect({ method, suffix, status: answer.status, body: answer.body }).toEqual({ method, suffix, status: 404, body: { error: 'Not Found', details } });
    }
  });

  it('a key of another account answers 404 exactly like a missing key, on every key call, both ways', async () => {
    const mine = await stack.createKey({ name: 'root-owned', permissions: ['FLOWS:READ'] });
    const before = await eventCount();
    for (const [callerKey, targetId] of [
      [stack.adminKey, other.id],
      [other.key, mine.id],
    ] as const) {
      for (const [method, suffix, body] of [
        ['GET', '', undefined],
        ['PATCH', '', { name: 'hijacked' }],
        ['POST', '/rotate', {}],
        ['POST', '/revoke', { reason: 'x' }],
        ['DELETE', '', undefined],
      ] as const) {
        const answer = await stack.call(method, `/v1/api-keys/${targetId}${suffix}`, { key: callerKey, body });
        expect({ method, suffix, ...pick(answer) }).toEqual({ method, suffix, ...notFound(targetId) });
      }
    }
    expect(await eventCount()).toBe(before);
    const otherList = await stack.call('GET', '/v1/api-keys?limit=1000', { key: other.key });
    expect(otherList.body.data.map((k: any) => k.accountId)).toEqual(['acc_other']);
    const rootList = await stack.call('GET', '/v1/api-keys?limit=1000');
    expect(rootList.body.data.map((k: any) => k.id)).not.toContain(other.id);
  });

  it('a key created by another account belongs to that account', async () => {
    const created = await stack.call('POST', '/v1/api-keys', { key: other.key, body: { name: 'other child', permissions: ['FLOWS:READ'] } });
    expect(created.status).toBe(201);
    expect(created.body.accountId).toBe('acc_other');
    expect((await stack.call('GET', `/v1/api-keys/${created.body.id}`)).status).toBe(404);
  });

  it('an audit query for a key of another account leaks nothing: 404, as for a missing key', async () => {
    const answer = await stack.call('GET', `/v1/audit/events?keyId=${other.id}`);
    expect(pick(answer)).toEqual(notFound(other.id));
  });
});

describe('patch', () => {
  it.each([
    ['name null', { name: null }, 'name'],
    ['name empty', { name: '' }, 'name'],
    ['name blank', { name: '   ' }, 'name'],
    ['name 201', { name: 'x'.repeat(201) }, 'name'],
    ['name with NUL', { name: 'a\u0000b' }, 'name'],
    ['permissions empty', { permissions: [] }, 'permissions'],
    ['permissions null', { permissions: null }, 'permissions'],
    ['permissions unknown', { permissions: ['FLOWS:READ', 'FLOWS:DELETE'] }, 'permissions[1]'],
    ['rateLimits.hour 0', { rateLimits: { hour: 0 } }, 'rateLimits.hour'],
    ['rateLimits.day fractional', { rateLimits: { day: 2.5 } }, 'rateLimits.day'],
    ['rateLimits.hour string', { rateLimits: { hour: '5' } }, 'rateLimits.hour'],
    ['rateLimits null', { rateLimits: null }, 'rateLimits'],
    ['environment', { environment: 'test' }, /environment/],
    ['expiresAt', { expiresAt: null }, /expiresAt/],
    ['status', { status: 'active' }, /status/],
    ['id', { id: 'key_01J0000000000000000000ZZZZ' }, /"id"/],
  ])('%s is a 400 naming the field and changes nothing', async (_case, body, field) => {
    const { id, object } = await stack.createKey({ name: 'patch target', permissions: ['FLOWS:READ'] });
    const before = await eventCount();
    expectBadRequest(await stack.call('PATCH', `/v1/api-keys/${id}`, { body }), field);
    expect(await eventCount()).toBe(before);
    expect((await stack.call('GET', `/v1/api-keys/${id}`)).body).toEqual(object);
  });

  it('a JSON array or null body is a 400, not a no-op 200', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    for (const raw of ['[]', 'null', '"x"']) {
      const answer = await stack.call('PATCH', `/v1/api-keys/${id}`, { body: raw });
      expect({ raw, status: answer.status }).toEqual({ raw, status: 400 });
    }
  });

  it('merges partial rate limits and returns the exact key object', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 10, day: 20 } });
    const patched = await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { rateLimits: { hour: 15 } } });
    expect(patched.status).toBe(200);
    expectKeyObject(patched.body);
    expect(patched.body.rateLimits).toEqual({ hour: 15, day: 20 });
  });

  it('a test key cannot be patched to hold *, KEYS: or AUDIT: permissions (400)', async () => {
    const { id } = await stack.createKey({ environment: 'test', permissions: ['FLOWS:READ'] });
    for (const permission of ['*', 'KEYS:WRITE', 'KEYS:*', 'AUDIT:READ']) {
      const answer = await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { permissions: ['FLOWS:READ', permission] } });
      expect(pick(answer)).toEqual({ status: 400, body: { error: 'Bad Request', details: `permissions[1]: test keys cannot be granted "${permission}"` } });
    }
  });

  it('patching an expired key: 409 like rotate, or 200 keeping status expired', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'], expiresAt: new Date(Date.now() + 800).toISOString() });
    await sleep(1200);
    const answer = await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { name: 'renamed after expiry' } });
    expect([200, 409]).toContain(answer.status);
    if (answer.status === 200) expect(answer.body.status).toBe('expired');
  });

  it('patching a revoked key is 409 and stores nothing', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: {} });
    const before = await eventCount();
    for (const body of [{ name: 'x' }, { permissions: ['FLOWS:READ'] }, { rateLimits: { hour: 5 } }, {}]) {
      const answer = await stack.call('PATCH', `/v1/api-keys/${id}`, { body });
      expect(pick(answer)).toEqual({ status: 409, body: { error: 'Conflict', details: `API key ${id} is revoked` } });
    }
    expect(await eventCount()).toBe(before);
  });
});

describe('rotate', () => {
  it.each([
    ['gracePeriodSeconds fractional', { gracePeriodSeconds: 1.5 }],
    ['gracePeriodSeconds null', { gracePeriodSeconds: null }],
    ['gracePeriodSeconds over 30 days', { gracePeriodSeconds: 2_592_001 }],
    ['gracePeriodSeconds huge', { gracePeriodSeconds: 1e300 }],
    ['gracePeriodSeconds boolean', { gracePeriodSeconds: true }],
    ['unknown field', { gracePeriod: 60 }],
    ['key chosen by the client', { key: generateKey({ environment: 'live' }).key }],
  ])('%s is a 400 and the old secret keeps working', async (_case, body) => {
    const { id, key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const before = await eventCount();
    const answer = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('Bad Request');
    const field = Object.keys(body)[0]!;
    expect(answer.body.details).toContain(field);
    expect(await eventCount()).toBe(before);
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
  });

  it('a JSON array or null body is a 400, not a rotation', async () => {
    const { id, key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    for (const raw of ['[]', 'null']) {
      const answer = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: raw });
      expect({ raw, status: answer.status }).toEqual({ raw, status: 400 });
    }
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
  });

  it('rotating with no body at all is a rotation with no grace period', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const answer = await stack.call('POST', `/v1/api-keys/${id}/rotate`);
    expect(answer.status).toBe(200);
  });

  it('the answer is the exact key object + key + previousKeyExpiresAt, and the 30-day maximum is accepted', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const t0 = Date.now();
    const answer = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 2_592_000 } });
    expect(answer.status).toBe(200);
    expectKeyObject(answer.body, ['key', 'previousKeyExpiresAt']);
    expect(answer.body.previousKeyExpiresAt).toMatch(ISO);
    expect(Math.abs(Date.parse(answer.body.previousKeyExpiresAt) - (t0 + 2_592_000_000))).toBeLessThan(5000);
    const fetched = await stack.call('GET', `/v1/api-keys/${id}`);
    expect(JSON.stringify(fetched.body)).not.toContain(answer.body.key);
    expect(fetched.body).toMatchObject({ prefix: answer.body.key.slice(0, 12), last4: answer.body.key.slice(-4) });
  });

  it('a test key rotates into a tv_test_ secret', async () => {
    const { id } = await stack.createKey({ environment: 'test', permissions: ['FLOWS:READ'] });
    const answer = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: {} });
    expect(answer.status).toBe(200);
    expect(answer.body.key).toMatch(/^tv_test_[0-9A-Za-z]{38}$/);
    expect(answer.body.environment).toBe('test');
  });

  it('rotating again ends the earlier grace period: only one previous secret is kept (docs/api.md)', async () => {
    const { id, key: first } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const r1 = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 60 } });
    expect(r1.status).toBe(200);
    expect((await stack.call('GET', '/v1/flows', { key: first })).status).toBe(200);
    const r2 = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 60 } });
    expect(r2.status).toBe(200);
    await sleep(300);
    const answers = await Promise.all(Array.from({ length: 10 }, () => stack.call('GET', '/v1/flows', { key: first })));
    expect(answers.map(pick)).toEqual(Array(10).fill({ status: 401, body: { error: 'Unauthorized', details: 'Invalid or missing API key' } }));
    expect((await stack.call('GET', '/v1/flows', { key: r1.body.key })).status).toBe(200);
    expect((await stack.call('GET', '/v1/flows', { key: r2.body.key })).status).toBe(200);
  });

  it('rotating again with no grace ends every previous secret at once', async () => {
    const { id, key: first } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const r1 = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 60 } });
    const r2 = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 0 } });
    expect([r1.status, r2.status]).toEqual([200, 200]);
    await sleep(300);
    expect((await stack.call('GET', '/v1/flows', { key: r1.body.key })).status).toBe(401);
    expect((await stack.call('GET', '/v1/flows', { key: first })).status).toBe(401);
    expect((await stack.call('GET', '/v1/flows', { key: r2.body.key })).status).toBe(200);
  });

  it('two concurrent rotations: both answer 200, and exactly the secret the key object names works', async () => {
    const { id, key: first } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const [a, b] = await Promise.all([0, 1].map(() => stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: {} })));
    expect([a!.status, b!.status]).toEqual([200, 200]);
    await sleep(300);
    const fetched = await stack.call('GET', `/v1/api-keys/${id}`);
    const works = async (key: string) => (await stack.call('GET', '/v1/flows', { key })).status === 200;
    const current = [a!.body.key, b!.body.key].filter((key: string) => key.slice(-4) === fetched.body.last4);
    expect(current).toHaveLength(1);
    expect({ first: await works(first), a: await works(a!.body.key), b: await works(b!.body.key) }).toEqual({
      first: false,
      a: a!.body.key === current[0],
      b: b!.body.key === current[0],
    });
  });

  it('revoking during a grace period revokes the old secret too', async () => {
    const { id, key: first } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 60 } });
    await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: {} });
    await sleep(300);
    for (const key of [first, rotated.body.key]) {
      expect(pick(await stack.call('GET', '/v1/flows', { key }))).toEqual({ status: 401, body: { error: 'Unauthorized', details: 'API key has been revoked' } });
    }
  });

  it('rotating an expired key is 409 (docs/api.md)', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'], expiresAt: new Date(Date.now() + 800).toISOString() });
    await sleep(1200);
    const answer = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: {} });
    expect(pick(answer)).toEqual({ status: 409, body: { error: 'Conflict', details: `API key ${id} has expired` } });
  });

  it('a key rotating itself: the new secret works and the old one stops after the grace period', async () => {
    const { id, key } = await stack.createKey({ permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { key, body: { gracePeriodSeconds: 1 } });
    expect(rotated.status).toBe(200);
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
    expect((await stack.call('GET', '/v1/flows', { key: rotated.body.key })).status).toBe(200);
    await sleep(1300);
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(401);
    expect((await stack.call('GET', '/v1/flows', { key: rotated.body.key })).status).toBe(200);
  });
});

describe('revoke and delete', () => {
  it.each([
    ['reason too long', { reason: 'x'.repeat(501) }, 'reason'],
    ['reason object', { reason: { text: 'x' } }, 'reason'],
    ['reason with NUL', { reason: 'leak\u0000ed' }, 'reason'],
    ['unknown field', { why: 'x' }, /why/],
  ])('%s is a 400 and the key stays active', async (_case, body, field) => {
    const { id, key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const before = await eventCount();
    expectBadRequest(await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body }), field);
    expect(await eventCount()).toBe(before);
    expect((await stack.call('GET', `/v1/api-keys/${id}`)).body.status).toBe('active');
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
  });

  it.each([
    ['[]', 'an array'],
    ['null', 'null'],
    ['"x"', 'string'],
  ])('a %s body on revoke is a 400 naming the body, not a revocation', async (raw, got) => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const answer = await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: raw });
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 400, body: { error: 'Bad Request', details: `body: must be a JSON object, got ${got}` } });
    expect((await stack.call('GET', `/v1/api-keys/${id}`)).body.status).toBe('active');
  });

  it('revoke answers the exact key object; twice answers the same and stores nothing', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const first = await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: { reason: 'leaked' } });
    expect(first.status).toBe(200);
    expectKeyObject(first.body);
    expect(first.body).toMatchObject({ status: 'revoked', revokedAt: expect.stringMatching(ISO) });
    const before = await eventCount();
    const second = await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: { reason: 'other reason' } });
    const third = await stack.call('DELETE', `/v1/api-keys/${id}`);
    expect(pick(second)).toEqual(pick(first));
    expect(pick(third)).toEqual(pick(first));
    expect(await eventCount()).toBe(before);
  });

  it('delete then get: the key reads back as revoked', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const deleted = await stack.call('DELETE', `/v1/api-keys/${id}`);
    expect(deleted.status).toBe(200);
    expectKeyObject(deleted.body);
    const fetched = await stack.call('GET', `/v1/api-keys/${id}`);
    expect(pick(fetched)).toEqual({ status: 200, body: deleted.body });
  });

  it('revoking an expired key is allowed and reads back as revoked', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'], expiresAt: new Date(Date.now() + 800).toISOString() });
    await sleep(1200);
    const answer = await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: {} });
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('revoked');
  });

  it('a key revoking itself: 200, then its own next request is 401 revoked', async () => {
    const { id, key } = await stack.createKey({ permissions: ['KEYS:WRITE'] });
    const answer = await stack.call('POST', `/v1/api-keys/${id}/revoke`, { key, body: {} });
    expect(answer.status).toBe(200);
    await sleep(300);
    expect(pick(await stack.call('GET', '/v1/flows', { key }))).toEqual({ status: 401, body: { error: 'Unauthorized', details: 'API key has been revoked' } });
  });
});

describe('grant rules (DESIGN §4)', () => {
  it('a KEYS:WRITE key without KEYS:READ can create, patch, rotate and revoke but not read', async () => {
    const { key } = await stack.createKey({ permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const created = await stack.call('POST', '/v1/api-keys', { key, body: { name: 'child', permissions: ['FLOWS:READ'] } });
    expect(created.status).toBe(201);
    expectKeyObject(created.body, ['key']);
    const id = created.body.id;
    expect((await stack.call('PATCH', `/v1/api-keys/${id}`, { key, body: { name: 'child 2' } })).status).toBe(200);
    expect((await stack.call('POST', `/v1/api-keys/${id}/rotate`, { key, body: {} })).status).toBe(200);
    expect((await stack.call('POST', `/v1/api-keys/${id}/revoke`, { key, body: {} })).status).toBe(200);
    for (const path of ['/v1/api-keys', `/v1/api-keys/${id}`]) {
      expect(pick(await stack.call('GET', path, { key }))).toEqual({ status: 403, body: { error: 'Forbidden', details: 'Missing required permission: KEYS:READ' } });
    }
  });

  it('a KEYS:WRITE key cannot grant KEYS:READ or KEYS:*, but can grant KEYS:WRITE', async () => {
    const { key } = await stack.createKey({ permissions: ['KEYS:WRITE'] });
    for (const permission of ['KEYS:READ', 'KEYS:*', 'AUDIT:READ']) {
      const answer = await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: [permission] } });
      expect(pick(answer)).toEqual({ status: 403, body: { error: 'Forbidden', details: `permissions[0]: cannot grant "${permission}" without holding it` } });
    }
    expect((await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: ['KEYS:WRITE'] } })).status).toBe(201);
  });

  it('R:* lets a caller grant R:* and every R:A, and nothing of another resource', async () => {
    const { key } = await stack.createKey({ permissions: ['KEYS:WRITE', 'FLOWS:*'] });
    for (const permission of ['FLOWS:*', 'FLOWS:READ', 'FLOWS:WRITE', 'FLOWS:EXECUTE']) {
      expect((await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: [permission] } })).status).toBe(201);
    }
    expect((await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: ['RECORDS:READ'] } })).status).toBe(403);
  });

  it('a key cannot patch itself to more permissions', async () => {
    const { id, key } = await stack.createKey({ permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const before = await eventCount();
    const answer = await stack.call('PATCH', `/v1/api-keys/${id}`, { key, body: { permissions: ['KEYS:WRITE', 'FLOWS:READ', 'FLOWS:WRITE'] } });
    expect(pick(answer)).toEqual({ status: 403, body: { error: 'Forbidden', details: 'permissions[2]: cannot grant "FLOWS:WRITE" without holding it' } });
    expect(await eventCount()).toBe(before);
  });

  it('a lesser key cannot rotate a key holding more than it (it would receive the secret)', async () => {
    const { key } = await stack.createKey({ permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const strong = await stack.createKey({ permissions: ['FLOWS:*'] });
    const before = await eventCount();
    const answer = await stack.call('POST', `/v1/api-keys/${strong.id}/rotate`, { key, body: {} });
    expect(answer.status).toBe(403);
    expect(answer.body.error).toBe('Forbidden');
    expect(await eventCount()).toBe(before);
    expect((await stack.call('GET', '/v1/flows', { key: strong.key })).status).toBe(200);
  });

  it('the grant check counts the permission as the caller holds it now, not at the caller’s creation', async () => {
    const caller = await stack.createKey({ permissions: ['KEYS:WRITE', 'FLOWS:*'] });
    expect((await stack.call('PATCH', `/v1/api-keys/${caller.id}`, { body: { permissions: ['KEYS:WRITE', 'FLOWS:READ'] } })).status).toBe(200);
    await sleep(300);
    const answer = await stack.call('POST', '/v1/api-keys', { key: caller.key, body: { name: 'x', permissions: ['FLOWS:WRITE'] } });
    expect(answer.status).toBe(403);
  });

  it('a test key cannot manage keys at all: no KEYS: permission can be granted to it', async () => {
    const answer = await stack.call('POST', '/v1/api-keys', { body: { name: 'x', environment: 'test', permissions: ['KEYS:WRITE'] } });
    expect(answer.status).toBe(400);
    const { key } = await stack.createKey({ environment: 'test', permissions: ['FLOWS:*', 'RECORDS:*'] });
    for (const [method, path] of [
      ['GET', '/v1/api-keys'],
      ['GET', '/v1/api-keys?environment=live'],
      ['POST', '/v1/api-keys'],
    ] as const) {
      const call = await stack.call(method, path, { key, body: method === 'POST' ? { name: 'x', environment: 'test', permissions: ['FLOWS:READ'] } : undefined });
      expect(call.status).toBe(403);
    }
  });
});

describe('the secret appears only in the create and rotate answers', () => {
  it('no list, get, patch, revoke or audit answer holds a secret or its hash', async () => {
    const created = await stack.call('POST', '/v1/api-keys', { body: { name: 'secret watch', permissions: ['FLOWS:READ'] } });
    const { id, key: s1 } = created.body;
    const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 5 } });
    const s2 = rotated.body.key;
    const hashes = [s1, s2].map((s) => fingerprint(s).secretHash);
    const answers = [
      await stack.call('GET', `/v1/api-keys/${id}`),
      await stack.call('GET', '/v1/api-keys?limit=1000'),
      await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { name: 'secret watch 2' } }),
      await stack.call('GET', `/v1/audit/events?keyId=${id}`),
      await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: {} }),
      await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: {} }),
    ];
    for (const answer of answers) {
      const text = JSON.stringify(answer.body);
      for (const needle of [s1, s2, ...hashes]) expect(text).not.toContain(needle);
    }
    expect(JSON.stringify(rotated.body)).not.toContain(s1);
    expect(stack.logs.text()).not.toContain(s1);
    expect(stack.logs.text()).not.toContain(s2);
  });
});

describe('unknown query parameters on single-key calls (docs/api.md: unknown query parameters are 400)', () => {
  it.each([
    ['GET', ''],
    ['PATCH', ''],
    ['POST', '/rotate'],
    ['POST', '/revoke'],
    ['DELETE', ''],
  ] as const)('%s /v1/api-keys/:id%s?expand=secret is a 400', async (method, suffix) => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const answer = await stack.call(method, `/v1/api-keys/${id}${suffix}?expand=secret`, { body: method === 'GET' || method === 'DELETE' ? undefined : {} });
    expect(pick(answer)).toEqual({ status: 400, body: { error: 'Bad Request', details: 'unknown query parameter "expand"' } });
  });

  it('POST /v1/api-keys?environment=test is a 400, not a live key', async () => {
    const answer = await stack.call('POST', '/v1/api-keys?environment=test', { body: { name: 'x', permissions: ['FLOWS:READ'] } });
    expect(answer.status).toBe(400);
  });
});
