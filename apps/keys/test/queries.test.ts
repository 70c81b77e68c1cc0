import type { AuditEvent, AuditPage, IssuedKey, KeyObject, KeyPage, Reply } from '@keyplane/contracts';
import { hashKey } from '@keyplane/key-format';
import { actor, keysTestEnv, newSecret, type KeysTestEnv } from './support/harness.js';

let env: KeysTestEnv;
let now = new Date('2026-11-26T10:00:00.000Z');
const admin = actor('acc_acme');
const other = actor('acc_other');
const subjects = () => env.ns.subjects.keys;

const at = (iso: string) => {
  now = new Date(iso);
};

async function issue(by: typeof admin, body: Record<string, unknown> = {}): Promise<KeyObject> {
  const environment = (body.environment as 'live' | 'test' | undefined) ?? 'live';
  const reply = await env.send<IssuedKey>(subjects().issue, {
    actor: by,
    name: 'k',
    environment,
    permissions: ['FLOWS:READ'],
    secret: newSecret(environment).fingerprint,
    ...body,
  });
  if (!reply.ok) throw new Error(JSON.stringify(reply.error));
  return reply.value.key;
}

async function ok<T>(reply: Promise<Reply<T>>): Promise<T> {
  const r = await reply;
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return r.value;
}

const list = (query: Record<string, unknown> = {}) => ok(env.send<KeyPage>(subjects().list, { actor: admin, ...query }));
const audit = (query: Record<string, unknown> = {}) => ok(env.send<AuditPage>(subjects().audit, { actor: admin, ...query }));

/** Follows nextCursor to the end, checking each page's size. */
async function allPages<T>(fetchPage: (cursor?: string) => Promise<{ data: T[]; nextCursor: string | null }>, limit: number): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 50; pages++) {
    const page = await fetchPage(cursor);
    items.push(...page.data);
    if (page.nextCursor === null) return items;
    expect(page.data).toHaveLength(limit);
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

// The account's keys, oldest first, as the fixture built them.
const keys: Record<string, KeyObject> = {};

beforeAll(async () => {
  env = await keysTestEnv('keys_queries');
  await env.start({}, { clock: () => now });

  at('2026-11-26T10:00:00.000Z');
  keys.ci = await issue(admin, { name: 'CI' });
  // Three keys in the same millisecond: the id breaks the tie, so pages stay stable.
  at('2026-11-26T10:01:00.000Z');
  keys.a = await issue(admin, { name: 'same time a' });
  keys.b = await issue(admin, { name: 'same time b', environment: 'test' });
  keys.c = await issue(admin, { name: 'same time c' });
  at('2026-11-26T10:02:00.000Z');
  keys.expiring = await issue(admin, { name: 'expiring', expiresAt: '2026-11-26T11:00:00.000Z' });
  at('2026-11-26T10:03:00.000Z');
  keys.sandbox = await issue(admin, { name: 'sandbox', environment: 'test' });
  at('2026-11-26T10:04:00.000Z');
  await ok(env.send(subjects().revoke, { actor: admin, keyId: keys.ci.id, reason: 'rotated out' }));
  at('2026-11-26T10:05:00.000Z');
  await ok(env.send(subjects().update, { actor: admin, keyId: keys.sandbox.id, name: 'sandbox 2', rateLimits: { hour: 5 } }));
  await issue(other, { name: 'someone else' });
  at('2026-11-26T12:00:00.000Z');
});

afterAll(async () => {
  await env?.close();
});

const newestFirst = () => {
  const sameMillisecond = [keys.a, keys.b, keys.c].sort((x, y) => (x.id < y.id ? 1 : -1));
  return [keys.sandbox.id, keys.expiring.id, ...sameMillisecond.map((k) => k.id), keys.ci.id];
};

describe('keys.query.get', () => {
  it('answers the key object as it is now, expiry derived from the clock', async () => {
    expect(await env.send(subjects().get, { actor: admin, keyId: keys.expiring.id })).toEqual({ ok: true, value: { ...keys.expiring, status: 'expired' } });
    expect(await env.send(subjects().get, { actor: admin, keyId: keys.ci.id })).toEqual({
      ok: true,
      value: { ...keys.ci, status: 'revoked', revokedAt: '2026-11-26T10:04:00.000Z' },
    });
  });

  it('answers 404 for another account’s key', async () => {
    expect(await env.send(subjects().get, { actor: other, keyId: keys.a.id })).toEqual({
      ok: false,
      error: { status: 404, error: 'Not Found', details: `API key ${keys.a.id} not found` },
    });
  });
});

describe('keys.query.list', () => {
  it('lists the account’s keys newest first, ties broken by id, nothing from other accounts', async () => {
    const page = await list();
    expect(page.data.map((k) => k.id)).toEqual(newestFirst());
    expect(page.nextCursor).toBeNull();
    expect(page.data.find((k) => k.id === keys.sandbox.id)).toEqual({ ...keys.sandbox, name: 'sandbox 2', rateLimits: { hour: 5, day: 10000 } });
  });

  it('pages through with an opaque cursor, never skipping or repeating a key', async () => {
    for (const limit of [1, 2, 4]) {
      const ids = await allPages((cursor) => list({ limit, cursor }), limit);
      expect({ limit, ids: ids.map((k) => k.id) }).toEqual({ limit, ids: newestFirst() });
    }
  });

  it('filters by environment and by status, expired being derived', async () => {
    expect((await list({ environment: 'test' })).data.map((k) => k.name)).toEqual(['sandbox 2', 'same time b']);
    expect((await list({ status: 'revoked' })).data.map((k) => k.id)).toEqual([keys.ci.id]);
    expect((await list({ status: 'expired' })).data.map((k) => [k.id, k.status])).toEqual([[keys.expiring.id, 'expired']]);
    expect((await list({ status: 'active' })).data.map((k) => k.id)).toEqual(newestFirst().filter((id) => id !== keys.ci.id && id !== keys.expiring.id));
    expect((await list({ environment: 'live', status: 'active', limit: 1 })).nextCursor).not.toBeNull();
  });

  it('before the expiry passes, the expiring key reads as active', async () => {
    const saved = now;
    at('2026-11-26T10:59:59.999Z');
    try {
      expect((await list({ status: 'expired' })).data).toEqual([]);
      expect((await list({ status: 'active' })).data.map((k) => k.id)).toContain(keys.expiring.id);
    } finally {
      now = saved;
    }
  });

  it('rejects a cursor it did not make, and a bad filter', async () => {
    expect(await env.send(subjects().list, { actor: admin, cursor: 'bm9wZQ' })).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: 'cursor: not a cursor this query returned' },
    });
    expect(await env.send(subjects().list, { actor: admin, status: 'deleted' })).toMatchObject({ ok: false, error: { status: 400, details: expect.stringMatching(/^status: /) } });
    expect(await env.send(subjects().list, { actor: admin, limit: 0 })).toMatchObject({ ok: false, error: { status: 400, details: expect.stringMatching(/^limit: /) } });
  });
});

describe('keys.query.audit', () => {
  it('returns the account’s lifecycle events newest first, with actor and no secret material', async () => {
    const page = await audit();
    expect(page.nextCursor).toBeNull();
    expect(page.data.map((e) => [e.type, e.keyId])).toEqual([
      ['KeyRateLimitsChanged', keys.sandbox.id],
      ['KeyRenamed', keys.sandbox.id],
      ['KeyRevoked', keys.ci.id],
      ['KeyIssued', keys.sandbox.id],
      ['KeyIssued', keys.expiring.id],
      ['KeyIssued', keys.c.id],
      ['KeyIssued', keys.b.id],
      ['KeyIssued', keys.a.id],
      ['KeyIssued', keys.ci.id],
    ]);
    const issued = page.data.find((e) => e.type === 'KeyIssued' && e.keyId === keys.expiring.id) as AuditEvent;
    expect(issued).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'KeyIssued',
      keyId: keys.expiring.id,
      accountId: 'acc_acme',
      actor: admin.keyId,
      occurredAt: '2026-11-26T10:02:00.000Z',
      data: {
        name: 'expiring',
        environment: 'live',
        permissions: ['FLOWS:READ'],
        rateLimits: { hour: 1000, day: 10000 },
        expiresAt: '2026-11-26T11:00:00.000Z',
        prefix: keys.expiring.prefix,
        last4: keys.expiring.last4,
      },
    });
    expect(page.data.find((e) => e.type === 'KeyRevoked')?.data).toEqual({ reason: 'rotated out' });
    const hashes = (await env.db.selectFrom('api_keys').select('secret_hash').execute()).map((r) => r.secret_hash);
    const text = JSON.stringify(page);
    expect(hashes.filter((h) => text.includes(h))).toEqual([]);
    expect(text).not.toMatch(/secretHash|previousSecretHash/);
  });

  it('filters by key, by type and by a from (inclusive) / to (exclusive) window', async () => {
    expect((await audit({ keyId: keys.sandbox.id })).data.map((e) => e.type)).toEqual(['KeyRateLimitsChanged', 'KeyRenamed', 'KeyIssued']);
    expect((await audit({ type: 'KeyRevoked' })).data.map((e) => e.keyId)).toEqual([keys.ci.id]);
    expect((await audit({ from: '2026-11-26T10:01:00.000Z', to: '2026-11-26T10:03:00.000Z' })).data.map((e) => e.keyId)).toEqual([
      keys.expiring.id,
      keys.c.id,
      keys.b.id,
      keys.a.id,
    ]);
    expect((await audit({ keyId: keys.a.id, type: 'KeyRevoked' })).data).toEqual([]);
  });

  it('pages through with a cursor', async () => {
    const everything = (await audit()).data.map((e) => e.id);
    const paged = await allPages((cursor) => audit({ limit: 2, cursor }), 2);
    expect(paged.map((e) => e.id)).toEqual(everything);
  });

  it('shows another account nothing of this one', async () => {
    const theirs = await ok(env.send<AuditPage>(subjects().audit, { actor: other }));
    expect(theirs.data.map((e) => [e.type, e.accountId])).toEqual([['KeyIssued', 'acc_other']]);
    expect((await ok(env.send<AuditPage>(subjects().audit, { actor: other, keyId: keys.a.id }))).data).toEqual([]);
  });

  it('keeps rotations free of hashes too', async () => {
    const fresh = newSecret();
    await ok(env.send(subjects().rotate, { actor: admin, keyId: keys.a.id, gracePeriodSeconds: 30, secret: fresh.fingerprint }));
    const [rotation] = (await audit({ keyId: keys.a.id, type: 'KeySecretRotated' })).data;
    expect(rotation.data).toEqual({ prefix: fresh.key.slice(0, 12), last4: fresh.key.slice(-4), previousKeyExpiresAt: '2026-11-26T12:00:30.000Z' });
    expect(JSON.stringify(rotation)).not.toContain(hashKey(fresh.key));
  });
});
