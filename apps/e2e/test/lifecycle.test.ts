import { sleep, startStack, type Stack } from './stack.js';

// DESIGN §2: a new or rotated key works on the very next request, on any replica; a
// revocation, rotation or permission change is in force on every replica within 250 ms.

let stack: Stack;

beforeAll(async () => {
  stack = await startStack('e2e_lifecycle');
});

afterAll(() => stack?.close());

const INVALID = { error: 'Unauthorized', details: 'Invalid or missing API key' };
// Enough calls that each of the two auth replicas (picked at random per request) answers some.
const CALLS = 20;

async function statuses(key: string, method = 'GET', path = '/v1/flows') {
  const answers = await Promise.all(Array.from({ length: CALLS }, () => stack.call(method, path, { key })));
  return answers;
}

describe('key lifecycle', () => {
  it('a new key works on the very next request', async () => {
    const { key } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await statuses(key)).map((a) => a.status)).toEqual(Array(CALLS).fill(200));
  });

  it('rotation without a grace period: the new secret works at once, the old one answers like an unknown key', async () => {
    const { key: old, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: {} });
    expect(rotated.status).toBe(200);
    const { key: fresh, previousKeyExpiresAt, ...object } = rotated.body;
    expect(fresh).toMatch(/^tv_live_[0-9A-Za-z]{38}$/);
    expect(fresh).not.toBe(old);
    expect(object).toMatchObject({ id, status: 'active', prefix: fresh.slice(0, 12), last4: fresh.slice(-4) });
    expect(Math.abs(Date.parse(previousKeyExpiresAt) - Date.now())).toBeLessThan(2000);

    expect((await statuses(fresh)).map((a) => a.status)).toEqual(Array(CALLS).fill(200));
    await sleep(250);
    for (const answer of await statuses(old)) {
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 401, body: INVALID });
    }
  });

  it('rotation with a grace period keeps the old secret working until the period ends', async () => {
    const { key: old, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    const rotated = await stack.call('POST', `/v1/api-keys/${id}/rotate`, { body: { gracePeriodSeconds: 2 } });
    expect(rotated.status).toBe(200);
    const expiresAt = Date.parse(rotated.body.previousKeyExpiresAt);
    expect(Math.abs(expiresAt - (Date.now() + 2000))).toBeLessThan(1000);

    expect((await statuses(old)).map((a) => a.status)).toEqual(Array(CALLS).fill(200));
    expect((await statuses(rotated.body.key)).map((a) => a.status)).toEqual(Array(CALLS).fill(200));

    await sleep(expiresAt - Date.now() + 250);
    for (const answer of await statuses(old)) expect({ status: answer.status, body: answer.body }).toEqual({ status: 401, body: INVALID });
    expect((await stack.call('GET', '/v1/flows', { key: rotated.body.key })).status).toBe(200);
  });

  it.each([
    ['POST /revoke', 'POST', '/revoke'],
    ['DELETE', 'DELETE', ''],
  ])('revocation (%s) is in force on both auth replicas within 250 ms', async (_how, method, suffix) => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);

    const revoked = await stack.call(method, `/v1/api-keys/${id}${suffix}`, { body: method === 'POST' ? { reason: 'leaked' } : undefined });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id, status: 'revoked', revokedAt: expect.any(String) });
    expect(revoked.body.key).toBeUndefined();

    const before = await Promise.all(stack.auth.map(revokedAnswers));
    await sleep(250);
    for (const answer of await statuses(key)) {
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 401, body: { error: 'Unauthorized', details: 'API key has been revoked' } });
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    }
    const after = await Promise.all(stack.auth.map(revokedAnswers));
    after.forEach((count, replica) => expect(count).toBeGreaterThan(before[replica]!));
  });

  it('a key stops working when it expires', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const { key, id, object } = await stack.createKey({ permissions: ['FLOWS:READ'], expiresAt });
    expect(object.expiresAt).toBe(expiresAt);
    expect((await stack.call('GET', '/v1/flows', { key })).status).toBe(200);

    await sleep(Date.parse(expiresAt) - Date.now() + 100);
    for (const answer of await statuses(key)) {
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 401, body: { error: 'Unauthorized', details: 'API key has expired' } });
    }
    expect((await stack.call('GET', `/v1/api-keys/${id}`)).body.status).toBe('expired');
  });

  it('a permission change is in force on both replicas within 250 ms', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'] });
    expect((await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { permissions: ['RECORDS:READ'] } })).status).toBe(200);
    await sleep(250);
    for (const answer of await statuses(key)) {
      expect({ status: answer.status, body: answer.body }).toEqual({
        status: 403,
        body: { error: 'Forbidden', details: 'Missing required permission: FLOWS:READ' },
      });
    }
    expect((await statuses(key, 'GET', '/v1/records')).map((a) => a.status)).toEqual(Array(CALLS).fill(200));
  });

  it('a rate-limit change is in force within 250 ms', async () => {
    const { key, id } = await stack.createKey({ permissions: ['FLOWS:READ'], rateLimits: { hour: 2 } });
    expect((await stack.call('GET', '/v1/flows', { key })).headers.get('x-ratelimit-limit-hour')).toBe('2');
    expect((await stack.call('PATCH', `/v1/api-keys/${id}`, { body: { rateLimits: { hour: 50 } } })).status).toBe(200);
    await sleep(250);
    const answer = await stack.call('GET', '/v1/flows', { key });
    expect({ status: answer.status, limit: answer.headers.get('x-ratelimit-limit-hour'), remaining: answer.headers.get('x-ratelimit-remaining-hour') }).toEqual({
      status: 200,
      limit: '50',
      remaining: '48',
    });
  });
});

/** How many times a replica answered "revoked", from its own /metrics. */
async function revokedAnswers(replica: { url: string }): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('auth_decisions_total{') && l.includes('reason="revoked"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}
