import { generateKey } from '@keyplane/key-format';
import { startStack, type Stack } from './stack.js';

// DESIGN §7 end to end: the management API behind the gateway, on top of the keys service.

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('e2e_management');
});

afterAll(() => stack?.close());

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const badRequest = (details: string) => ({ error: 'Bad Request', details });

describe('management API', () => {
  it('creates a key and shows its secret exactly once', async () => {
    const created = await stack.call('POST', '/v1/api-keys', { body: { name: 'CI deploy', permissions: ['FLOWS:READ', 'RECORDS:*'] } });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/json');
    const secret = created.body.key as string;
    expect(secret).toMatch(/^tv_live_[0-9A-Za-z]{38}$/);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^key_[0-9A-HJKMNP-TV-Z]{26}$/),
      accountId: 'acc_root',
      name: 'CI deploy',
      environment: 'live',
      prefix: secret.slice(0, 12),
      last4: secret.slice(-4),
      permissions: ['FLOWS:READ', 'RECORDS:*'],
      rateLimits: { hour: 1000, day: 10000 },
      status: 'active',
      createdAt: expect.stringMatching(ISO),
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
      key: secret,
    });

    const object = { ...created.body };
    delete object.key;
    const fetched = await stack.call('GET', `/v1/api-keys/${object.id}`);
    expect(fetched).toMatchObject({ status: 200, body: object });
    const listed = await stack.call('GET', '/v1/api-keys');
    expect(listed.body.data).toContainEqual(object);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect((await stack.call('GET', '/v1/flows', { key: secret })).status).toBe(200);
    expect(stack.logs.text()).not.toContain(secret);
  });

  it('creates test keys and keys with their own limits and expiry', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const created = await stack.call('POST', '/v1/api-keys', {
      body: { name: 'staging', environment: 'test', permissions: ['FLOWS:*'], rateLimits: { hour: 10 }, expiresAt },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ environment: 'test', rateLimits: { hour: 10, day: 10000 }, expiresAt });
    expect(created.body.key).toMatch(/^tv_test_/);
  });

  it('lists keys with filters and a cursor', async () => {
    await stack.createKey({ name: 'list-a', environment: 'test', permissions: ['FLOWS:READ'] });
    await stack.createKey({ name: 'list-b', environment: 'test', permissions: ['FLOWS:READ'] });

    const tests = await stack.call('GET', '/v1/api-keys?environment=test');
    expect(tests.status).toBe(200);
    expect(tests.body.data.length).toBeGreaterThanOrEqual(2);
    expect(tests.body.data.every((k: { environment: string }) => k.environment === 'test')).toBe(true);
    expect(tests.body.nextCursor).toBeNull();

    const first = await stack.call('GET', '/v1/api-keys?environment=test&limit=1');
    expect(first.body.data).toHaveLength(1);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await stack.call('GET', `/v1/api-keys?environment=test&limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body.data).toHaveLength(1);
    expect(second.body.data[0].id).not.toBe(first.body.data[0].id);

    const active = await stack.call('GET', '/v1/api-keys?status=revoked');
    expect(active.body.data.every((k: { status: string }) => k.status === 'revoked')).toBe(true);
  });

  it.each([
    ['limit=0', 'limit: Too small: expected number to be >=1'],
    ['limit=ten', 'limit: expected an integer between 1 and 1000'],
    ['environment=prod', 'environment: Invalid option: expected one of "live"|"test"'],
    ['status=gone', 'status: Invalid option: expected one of "active"|"revoked"|"expired"'],
    ['enviroment=test', 'unknown query parameter "enviroment"'],
  ])('answers a bad list parameter (%s) with a 400 naming it', async (query, details) => {
    expect(await stack.call('GET', `/v1/api-keys?${query}`)).toMatchObject({ status: 400, body: badRequest(details) });
  });

  it.each([
    [{ permissions: ['FLOWS:READ'] }, 'name: Invalid input: expected string, received undefined'],
    [{ name: 'x', permissions: 'FLOWS:READ' }, 'permissions: Invalid input: expected array, received string'],
    [{ name: 'x', permissions: ['FLOWS:READ', 'FLOW:READ'] }, 'permissions[1]: unknown permission "FLOW:READ"'],
    [{ name: 'x', permissions: [] }, 'permissions: must grant at least one permission'],
    [{ name: 'x', environment: 'prod', permissions: ['FLOWS:READ'] }, 'environment: Invalid option: expected one of "live"|"test"'],
    [{ name: 'x', permissions: ['FLOWS:READ'], rateLimits: { hour: -1 } }, 'rateLimits.hour: Too small: expected number to be >0'],
    [{ name: 'x', permissions: ['FLOWS:READ'], expiresAt: 'tomorrow' }, 'expiresAt: Invalid ISO datetime'],
    [{ name: 'x', permissions: ['FLOWS:READ'], expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt: must be in the future'],
    [{ name: 'x', permissions: ['FLOWS:READ'], owner: 'me' }, 'Unrecognized key: "owner"'],
    [{ name: '   ', permissions: ['FLOWS:READ'] }, 'name: must not be empty'],
  ])('answers a bad create body %j with a 400 naming the field', async (body, details) => {
    expect(await stack.call('POST', '/v1/api-keys', { body })).toMatchObject({ status: 400, body: badRequest(details) });
  });

  it('answers a body that is not JSON with a 400', async () => {
    const answer = await stack.call('POST', '/v1/api-keys', { body: '{"name": "x", ' });
    expect(answer).toMatchObject({ status: 400, body: badRequest('Request body is not valid JSON') });
    expect(answer.headers.get('content-type')).toBe('application/json');
  });

  it('updates name, permissions and limits together', async () => {
    const { id } = await stack.createKey({ name: 'before', permissions: ['FLOWS:READ'] });
    const updated = await stack.call('PATCH', `/v1/api-keys/${id}`, {
      body: { name: 'after', permissions: ['FLOWS:READ', 'FLOWS:WRITE'], rateLimits: { day: 500 } },
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, name: 'after', permissions: ['FLOWS:READ', 'FLOWS:WRITE'], rateLimits: { hour: 1000, day: 500 } });
    expect(updated.body.key).toBeUndefined();
    expect(await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { permissions: ['NOPE'] } })).toMatchObject({
      status: 400,
      body: badRequest('permissions[0]: unknown permission "NOPE"'),
    });
  });

  it('revokes, and refuses to change a revoked key', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const revoked = await stack.call('DELETE', `/v1/api-keys/${id}`);
    expect(revoked.body).toMatchObject({ id, status: 'revoked', revokedAt: expect.stringMatching(ISO) });
    expect((await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: {} })).body).toEqual(revoked.body);
    expect(await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: {} })).toMatchObject({
      status: 409,
      body: { error: 'Conflict', details: `API key ${id} is revoked` },
    });
  });

  it('answers 404 for a key that does not exist', async () => {
    const missing = 'key_01J0000000000000000000ZZZZ';
    for (const [method, path] of [
      ['GET', ''],
      ['PATCH', ''],
      ['DELETE', ''],
      ['POST', '/rotate'],
      ['POST', '/revoke'],
    ] as const) {
      const answer = await stack.call(method, `/v1/api-keys/${missing}${path}`, { body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      expect({ method, path, status: answer.status, body: answer.body }).toEqual({
        method,
        path,
        status: 404,
        body: { error: 'Not Found', details: `API key ${missing} not found` },
      });
    }
  });

  it('validates rotate and revoke bodies', async () => {
    const { id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect(await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: -5 } })).toMatchObject({
      status: 400,
      body: badRequest('gracePeriodSeconds: Too small: expected number to be >=0'),
    });
    expect(await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: '60' } })).toMatchObject({
      status: 400,
      body: badRequest('gracePeriodSeconds: Invalid input: expected number, received string'),
    });
    expect(await stack.call('POST', `/v1/api-keys/${id}/revoke`, { body: { reason: 42 } })).toMatchObject({
      status: 400,
      body: badRequest('reason: Invalid input: expected string, received number'),
    });
  });

  it('keeps the audit trail of a key', async () => {
    const { id } = await stack.createKey({ name: 'audited', permissions: ['FLOWS:READ'] });
    await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { name: 'audited twice' } });
    const audit = await stack.call('GET', `/v1/audit/events?keyId=${id}`);
    expect(audit.status).toBe(200);
    expect(audit.body.data.map((e: { type: string }) => e.type).sort()).toEqual(['KeyIssued', 'KeyRenamed']);
  });

  it('answers usage and alerts with 503 and keeps lastUsedAt null when metering is not running', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);
    for (const path of [`/v1/api-keys/${id}/usage`, `/v1/api-keys/${id}/events`, '/v1/alerts']) {
      const answer = await stack.call('GET', path);
      expect({ path, status: answer.status, body: answer.body }).toEqual({
        path,
        status: 503,
        body: { error: 'Service Unavailable', details: 'Metering service unavailable' },
      });
    }
    expect(await stack.call('GET', `/v1/api-keys/${id}`)).toMatchObject({ status: 200, body: { id, lastUsedAt: null } });
  });
});

describe('privilege escalation', () => {
  it('refuses a test key creating a live key', async () => {
    const { key } = await stack.createKey({ environment: 'test', permissions: ['FLOWS:*'] });
    const answer = await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', environment: 'live', permissions: ['FLOWS:READ'] } });
    expect(answer).toMatchObject({ status: 403, body: { error: 'Forbidden', details: 'Missing required permission: KEYS:WRITE' } });
  });

  it('refuses to grant what the caller does not hold', async () => {
    const { key } = await stack.createKey({ permissions: ['KEYS:WRITE', 'KEYS:READ', 'FLOWS:READ'] });
    expect(await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: ['FLOWS:READ', 'FLOWS:WRITE'] } })).toMatchObject({
      status: 403,
      body: { error: 'Forbidden', details: 'permissions[1]: cannot grant "FLOWS:WRITE" without holding it' },
    });
    expect(await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: ['*'] } })).toMatchObject({
      status: 403,
      body: { error: 'Forbidden', details: 'permissions[0]: cannot grant "*" without holding it' },
    });
    const granted = await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: ['FLOWS:READ'] } });
    expect(granted.status).toBe(201);
    expect(await stack.call('PATCH', `/v1/api-keys/${granted.body.id}`, { key, body: { permissions: ['FLOWS:*'] } })).toMatchObject({
      status: 403,
      body: { error: 'Forbidden', details: 'permissions[0]: cannot grant "FLOWS:*" without holding it' },
    });
  });

  it('refuses full access and key management for test keys', async () => {
    for (const permission of ['*', 'KEYS:READ', 'AUDIT:READ']) {
      expect(await stack.call('POST', '/v1/api-keys', { body: { name: 'x', environment: 'test', permissions: ['FLOWS:READ', permission] } })).toMatchObject({
        status: 400,
        body: badRequest(`permissions[1]: test keys cannot be granted "${permission}"`),
      });
    }
  });

  it('needs KEYS:READ to read keys and KEYS:WRITE to change them', async () => {
    const { key } = await stack.createKey({ permissions: ['KEYS:READ'] });
    expect((await stack.call('GET', '/v1/api-keys', { key })).status).toBe(200);
    expect(await stack.call('POST', '/v1/api-keys', { key, body: { name: 'x', permissions: ['KEYS:READ'] } })).toMatchObject({
      status: 403,
      body: { error: 'Forbidden', details: 'Missing required permission: KEYS:WRITE' },
    });
  });

  it('never accepts a secret chosen by the client', async () => {
    const chosen = generateKey({ environment: 'live' }).key;
    expect(await stack.call('POST', '/v1/api-keys', { body: { name: 'x', permissions: ['FLOWS:READ'], key: chosen } })).toMatchObject({
      status: 400,
      body: badRequest('Unrecognized key: "key"'),
    });
  });
});
