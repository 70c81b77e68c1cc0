/* eslint-disable @typescript-eslint/no-explicit-any */
import pg from 'pg';
import type { Actor, Reply } from '@keyplane/contracts';
import { fingerprint, generateKey } from '@keyplane/key-format';
import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import type { ServiceHandle } from '@keyplane/runtime';
import { TEST_NATS_URL, waitFor } from '@keyplane/testing';
import { loadKeysConfig } from '../../keys/src/config.js';
import { startKeysService } from '../../keys/src/start.js';
import { sleep, startStack, type Answer, type Stack } from './stack.js';

// DESIGN §4 (grant rules) and §7 (management API) as an attacker holding a limited key probes
// them (docs/api.md "Keys" and "Test keys" where DESIGN is silent): escalation by create, PATCH
// and rotate, permission strings that only look like catalog ones, test keys reaching live
// keys, other accounts, a caller revoked or narrowed while its request is on its way, and an
// account losing its last admin.

let stack: Stack;
let pool: pg.Pool;
let nc: Awaited<ReturnType<typeof connectNats>>;
/** A keys service this file started itself (the bootstrap recovery), closed before the stack. */
let restartedKeys: ServiceHandle | undefined;

beforeAll(async () => {
  stack = await startStack('e2e_authz');
  pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  nc = await connectNats({ url: TEST_NATS_URL, name: 'e2e-authz' });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await pool?.end();
  await restartedKeys?.close();
  await stack?.close();
});

const pick = (a: Answer) => ({ status: a.status, body: a.body });
const unauthorized = (details: string) => ({ ok: false, error: { status: 401, error: 'Unauthorized', details } });
const forbidden = (details: string) => ({ ok: false, error: { status: 403, error: 'Forbidden', details } });

async function eventCount(): Promise<number> {
  const { rows } = await pool.query('select count(*)::int as n from keys.events');
  return rows[0].n;
}

/** Events stored on behalf of `keyId` after its own revocation, in store order: there must be none. */
async function issuedAfterRevocation(keyId: string): Promise<string[]> {
  const { rows } = await pool.query<{ type: string; actor: string; key_id: string }>(
    `select type, data->>'actor' as actor, data->>'keyId' as key_id from keys.events where data->>'actor' = $1 or stream_id = $2 order by global_position`,
    [keyId, `key-${keyId}`],
  );
  const revokedAt = rows.findIndex((row) => row.type === 'KeyRevoked' && row.key_id === keyId);
  if (revokedAt < 0) throw new Error(`${keyId} was not revoked`);
  return rows.slice(revokedAt + 1).filter((row) => row.actor === keyId).map((row) => `${row.type} of ${row.key_id}`);
}

/** The actor the gateway sends for a key: auth's view of it when it decided. */
function actorOf(id: string, permissions: string[], environment: 'live' | 'test' = 'live', accountId = 'acc_root'): Actor {
  return { keyId: id, accountId, environment, permissions };
}

/** Sends a request to the keys service exactly as the gateway does, with whatever actor auth's (possibly stale) decision named. */
async function asGateway<T = any>(subject: keyof Stack['ns']['subjects']['keys'], data: Record<string, unknown>): Promise<Reply<T>> {
  const name = stack.ns.subjects.keys[subject];
  const message = await nc.request(name, encodeJson({ pattern: name, id: `authz-${Math.random()}`, data }), { timeout: 10_000 });
  return (decodeJson(message.data) as { response: Reply<T> }).response;
}

const newSecret = (environment: 'live' | 'test' = 'live') => fingerprint(generateKey({ environment }).key);

/** Every key call the keys service takes, made by `actor` on `target`. */
function everyCall(actor: Actor, target: string) {
  return [
    ['issue', { actor, name: 'by stale caller', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret() }],
    ['update', { actor, keyId: target, name: 'renamed by stale caller' }],
    ['update', { actor, keyId: target, permissions: ['FLOWS:READ', 'FLOWS:WRITE'] }],
    ['rotate', { actor, keyId: target, gracePeriodSeconds: 0, secret: newSecret() }],
    ['revoke', { actor, keyId: target }],
    ['get', { actor, keyId: target }],
    ['list', { actor }],
    ['audit', { actor }],
  ] as const;
}

describe('the keys service judges the calling key as it stands, not as auth last saw it (a change is in force on auth within 250 ms, not at once)', () => {
  it('a key revoked after auth let its request through issues, changes, rotates, revokes and reads nothing: 401 revoked, as its next request', async () => {
    const caller = await stack.createKey({ name: 'caller', permissions: ['KEYS:*', 'FLOWS:*'] });
    const target = await stack.createKey({ name: 'target', permissions: ['FLOWS:READ'] });
    expect((await stack.call('POST', `/v1/api-keys/${caller.id}/revoke`, { body: {} })).status).toBe(200);
    const before = await eventCount();
    for (const [subject, data] of everyCall(actorOf(caller.id, ['KEYS:*', 'FLOWS:*']), target.id)) {
      expect({ subject, reply: await asGateway(subject, data) }).toEqual({ subject, reply: unauthorized('API key has been revoked') });
    }
    expect(await eventCount()).toBe(before);
    expect((await stack.call('GET', `/v1/api-keys/${target.id}`)).body).toMatchObject({ name: 'target', permissions: ['FLOWS:READ'], status: 'active' });
  });

  it('a key narrowed after auth let its request through grants and rotates only with what it holds now (403), so it cannot keep what it lost', async () => {
    const caller = await stack.createKey({ name: 'narrowed', permissions: ['KEYS:WRITE', 'FLOWS:*'] });
    const strong = await stack.createKey({ name: 'strong', permissions: ['FLOWS:*'] });
    const child = await stack.createKey({ name: 'child', permissions: ['FLOWS:READ'] });
    expect((await stack.call('PATCH', `/v1/api-keys/${caller.id}`, { body: { permissions: ['KEYS:WRITE', 'FLOWS:READ'] } })).status).toBe(200);
    const stale = actorOf(caller.id, ['KEYS:WRITE', 'FLOWS:*']);
    const before = await eventCount();

    const issued = await asGateway('issue', { actor: stale, name: 'keeps FLOWS:*', environment: 'live', permissions: ['FLOWS:*'], secret: newSecret() });
    expect(issued).toEqual(forbidden('permissions[0]: cannot grant "FLOWS:*" without holding it'));
    const widened = await asGateway('update', { actor: stale, keyId: child.id, permissions: ['FLOWS:WRITE'] });
    expect(widened).toEqual(forbidden('permissions[0]: cannot grant "FLOWS:WRITE" without holding it'));
    const rotated = await asGateway('rotate', { actor: stale, keyId: strong.id, gracePeriodSeconds: 0, secret: newSecret() });
    expect(rotated).toEqual(forbidden('permissions[0]: cannot grant "FLOWS:*" without holding it'));
    expect(await eventCount()).toBe(before);
    // What it still holds it may still use: the decision is the grant rule's, on its current permissions.
    const allowed = await asGateway('issue', { actor: stale, name: 'within', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret() });
    expect(allowed.ok).toBe(true);
  });

  it('a key whose expiry passed after auth let its request through: 401 expired, nothing stored', async () => {
    const target = await stack.createKey({ name: 'target of expired', permissions: ['FLOWS:READ'] });
    const expiresAt = new Date(Date.now() + 3000).toISOString();
    const caller = await stack.createKey({ name: 'short-lived', permissions: ['KEYS:*', 'FLOWS:READ'], expiresAt });
    await sleep(Date.parse(expiresAt) - Date.now() + 50);
    const before = await eventCount();
    for (const [subject, data] of everyCall(actorOf(caller.id, ['KEYS:*', 'FLOWS:READ']), target.id)) {
      expect({ subject, reply: await asGateway(subject, data) }).toEqual({ subject, reply: unauthorized('API key has expired') });
    }
    expect(await eventCount()).toBe(before);
    expect(pick(await stack.call('GET', '/v1/api-keys', { key: caller.key }))).toEqual({ status: 401, body: { error: 'Unauthorized', details: 'API key has expired' } });
  });

  it('an actor naming a stored key with another account or environment than the key has is refused, 401, not obeyed', async () => {
    const caller = await stack.createKey({ name: 'misnamed', environment: 'test', permissions: ['FLOWS:READ'] });
    const target = await stack.createKey({ name: 'live target', permissions: ['FLOWS:READ'] });
    const before = await eventCount();
    for (const actor of [actorOf(caller.id, ['*'], 'live'), actorOf(caller.id, ['*'], 'test', 'acc_elsewhere')]) {
      for (const [subject, data] of everyCall(actor, target.id)) {
        expect({ subject, reply: await asGateway(subject, data) }).toEqual({ subject, reply: unauthorized('Invalid or missing API key') });
      }
    }
    expect(await eventCount()).toBe(before);
  });

  it('commands of a key already under way when it is revoked decide again: none is stored after the revocation', async () => {
    const caller = await stack.createKey({ name: 'busy', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const actor = actorOf(caller.id, ['KEYS:WRITE', 'FLOWS:READ']);
    const issue = () => asGateway('issue', { actor, name: 'queued', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret() });
    const before = Array.from({ length: 20 }, issue);
    const revoke = asGateway('revoke', { actor: actorOf(caller.id, ['KEYS:WRITE']), keyId: caller.id, reason: 'mid-flight' });
    const after = Array.from({ length: 20 }, issue);
    const replies = await Promise.all([...before, revoke, ...after]);
    for (const reply of replies) expect(reply.ok || reply.error).toEqual(reply.ok ? true : unauthorized('API key has been revoked').error);
    expect(replies[20].ok).toBe(true);
    expect(await issuedAfterRevocation(caller.id)).toEqual([]);
  });

  it('through the gateway, a key revoked while it issues keys: nothing it asked for is stored after its revocation', async () => {
    const caller = await stack.createKey({ name: 'racing', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    let stop = false;
    const answers: number[] = [];
    const flood = (async () => {
      while (!stop) {
        const answer = await stack.call('POST', '/v1/api-keys', { key: caller.key, body: { name: 'raced', permissions: ['FLOWS:READ'] } });
        answers.push(answer.status);
        if (answer.status === 401) return;
      }
    })();
    await waitFor('the caller to have issued a key', () => answers.includes(201), 20_000);
    expect((await stack.call('POST', `/v1/api-keys/${caller.id}/revoke`, { body: {} })).status).toBe(200);
    await waitFor('the caller to be refused', () => answers.includes(401), 20_000);
    stop = true;
    await flood;
    expect(answers.every((status) => status === 201 || status === 401)).toBe(true);
    expect(await issuedAfterRevocation(caller.id)).toEqual([]);
  }, 60_000);
});

describe('permission strings are catalog strings exactly: no case, space, width or wildcard trick reads as one (DESIGN §4)', () => {
  const LOOK_ALIKES = [
    'keys:write',
    'Keys:Write',
    'KEYS:WRITE ',
    ' KEYS:WRITE',
    'KEYS: WRITE',
    'KEYS：WRITE', // full-width colon
    'ＫＥＹＳ:WRITE', // full-width letters
    'КEYS:WRITE', // Cyrillic К
    'KEYS:WRITE\u200b', // zero-width space
    'KEYS:WRITE\u0000',
    'KEYS:WRITE\n',
    '*:*',
    '**',
    '* ',
    'FLOWS:**',
    'FLOWS:*:*',
    'KEYS',
    'KEYS:',
    ':*',
    'KEYS:READ,KEYS:WRITE',
    'AUDIT:*',
    'ANALYTICS:*',
  ];

  it.each(LOOK_ALIKES)('%j is an unknown permission (400) in a create and in a PATCH of the caller itself, and nothing is stored', async (permission) => {
    const caller = await stack.createKey({ name: 'limited', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const before = await eventCount();
    const details = `permissions[1]: unknown permission ${JSON.stringify(permission)}`;
    const created = await stack.call('POST', '/v1/api-keys', { key: caller.key, body: { name: 'x', permissions: ['FLOWS:READ', permission] } });
    expect(pick(created)).toEqual({ status: 400, body: { error: 'Bad Request', details } });
    const patched = await stack.call('PATCH', `/v1/api-keys/${caller.id}`, { key: caller.key, body: { permissions: ['KEYS:WRITE', permission] } });
    expect(pick(patched)).toEqual({ status: 400, body: { error: 'Bad Request', details } });
    expect(await eventCount()).toBe(before);
  });

  it('a permission listed twice is a 400 naming the second, even when the caller holds it', async () => {
    const caller = await stack.createKey({ name: 'dups', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    for (const permissions of [
      ['FLOWS:READ', 'FLOWS:READ'],
      ['KEYS:WRITE', 'FLOWS:READ', 'KEYS:WRITE'],
    ]) {
      const answer = await stack.call('POST', '/v1/api-keys', { key: caller.key, body: { name: 'x', permissions } });
      const i = permissions.lastIndexOf(permissions[0]);
      expect(pick(answer)).toEqual({ status: 400, body: { error: 'Bad Request', details: `permissions[${i}]: duplicate permission ${JSON.stringify(permissions[0])}` } });
    }
  });

  it.each(['*', 'KEYS:*', 'KEYS:READ', 'FLOWS:*', 'FLOWS:WRITE'])('a KEYS:WRITE + FLOWS:READ key cannot grant %s by create or by PATCH of itself or another key: 403', async (permission) => {
    const caller = await stack.createKey({ name: 'limited', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const other = await stack.createKey({ name: 'other', permissions: ['FLOWS:READ'] });
    const before = await eventCount();
    const details = `permissions[1]: cannot grant ${JSON.stringify(permission)} without holding it`;
    const calls = [
      ['POST', '/v1/api-keys', { name: 'x', permissions: ['FLOWS:READ', permission] }],
      ['PATCH', `/v1/api-keys/${caller.id}`, { permissions: ['KEYS:WRITE', permission] }],
      ['PATCH', `/v1/api-keys/${other.id}`, { permissions: ['FLOWS:READ', permission] }],
    ] as const;
    for (const [method, path, body] of calls) {
      expect({ path, ...pick(await stack.call(method, path, { key: caller.key, body })) }).toEqual({ path, status: 403, body: { error: 'Forbidden', details } });
    }
    expect(await eventCount()).toBe(before);
  });
});

describe('rotation hands over what the key holds, never more (docs/api.md "Keys")', () => {
  it('a lesser key may narrow a stronger key to what it holds itself, and then rotate it: the secret it receives holds only that', async () => {
    const caller = await stack.createKey({ name: 'lesser', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const strong = await stack.createKey({ name: 'stronger', permissions: ['FLOWS:*', 'RECORDS:*'] });
    expect((await stack.call('POST', `/v1/api-keys/${strong.id}/rotate`, { key: caller.key, body: {} })).status).toBe(403);
    const narrowed = await stack.call('PATCH', `/v1/api-keys/${strong.id}`, { key: caller.key, body: { permissions: ['FLOWS:READ'] } });
    expect({ status: narrowed.status, permissions: narrowed.body.permissions }).toEqual({ status: 200, permissions: ['FLOWS:READ'] });
    const rotated = await stack.call('POST', `/v1/api-keys/${strong.id}/rotate`, { key: caller.key, body: {} });
    expect({ status: rotated.status, permissions: rotated.body.permissions }).toEqual({ status: 200, permissions: ['FLOWS:READ'] });
    await waitFor('the rotated secret to work', async () => (await stack.call('GET', '/v1/flows', { key: rotated.body.key })).status === 200, 10_000);
    for (const [method, path] of [
      ['POST', '/v1/flows'],
      ['GET', '/v1/records'],
    ] as const) {
      expect((await stack.call(method, path, { key: rotated.body.key, body: method === 'POST' ? { name: 'f' } : undefined })).status).toBe(403);
    }
  });

  it('whoever rotated a key holds its secret, and with it what the key is granted later; the audit trail names the rotating key', async () => {
    const caller = await stack.createKey({ name: 'rotator', permissions: ['KEYS:WRITE', 'FLOWS:READ'] });
    const target = await stack.createKey({ name: 'widened later', permissions: ['FLOWS:READ'] });
    const rotated = await stack.call('POST', `/v1/api-keys/${target.id}/rotate`, { key: caller.key, body: {} });
    expect(rotated.status).toBe(200);
    expect((await stack.call('PATCH', `/v1/api-keys/${target.id}`, { body: { permissions: ['FLOWS:*'] } })).status).toBe(200);
    await waitFor('the widened key to write flows', async () => (await stack.call('POST', '/v1/flows', { key: rotated.body.key, body: { name: 'f' } })).status === 201, 10_000);
    const audit = await stack.call('GET', `/v1/audit/events?keyId=${target.id}&type=KeySecretRotated`);
    expect(audit.body.data.map((event: any) => event.actor)).toEqual([caller.id]);
  });
});

describe('test keys cannot reach live keys, nor read what live keys did (docs/api.md "Test keys")', () => {
  const TEST_KEY_PERMISSIONS = ['FLOWS:*', 'RECORDS:*', 'PROMPTS:*', 'ANALYTICS:READ'];

  it('a test key holding everything a test key can hold is refused every management call, whatever it names: 403, nothing stored', async () => {
    const testKey = await stack.createKey({ name: 'test everything', environment: 'test', permissions: TEST_KEY_PERMISSIONS });
    const live = await stack.createKey({ name: 'live', permissions: ['FLOWS:READ'] });
    const before = await eventCount();
    const missing = (permission: string) => ({ status: 403, body: { error: 'Forbidden', details: `Missing required permission: ${permission}` } });
    const calls = [
      ['GET', '/v1/api-keys', undefined, 'KEYS:READ'],
      ['GET', '/v1/api-keys?environment=test', undefined, 'KEYS:READ'],
      ['GET', `/v1/api-keys/${live.id}`, undefined, 'KEYS:READ'],
      ['GET', `/v1/api-keys/${testKey.id}`, undefined, 'KEYS:READ'],
      ['GET', `/v1/api-keys/${live.id}/usage`, undefined, 'KEYS:READ'],
      ['GET', `/v1/api-keys/${live.id}/events`, undefined, 'KEYS:READ'],
      ['GET', '/v1/audit/events', undefined, 'AUDIT:READ'],
      ['GET', `/v1/audit/events?keyId=${live.id}`, undefined, 'AUDIT:READ'],
      ['GET', '/v1/alerts', undefined, 'AUDIT:READ'],
      ['POST', '/v1/api-keys', { name: 'x', permissions: ['FLOWS:READ'] }, 'KEYS:WRITE'],
      ['POST', '/v1/api-keys', { name: 'x', environment: 'test', permissions: ['FLOWS:READ'] }, 'KEYS:WRITE'],
      ['PATCH', `/v1/api-keys/${live.id}`, { name: 'x' }, 'KEYS:WRITE'],
      ['PATCH', `/v1/api-keys/${testKey.id}`, { permissions: ['KEYS:WRITE'] }, 'KEYS:WRITE'],
      ['POST', `/v1/api-keys/${live.id}/rotate`, {}, 'KEYS:WRITE'],
      ['POST', `/v1/api-keys/${testKey.id}/rotate`, {}, 'KEYS:WRITE'],
      ['POST', `/v1/api-keys/${live.id}/revoke`, {}, 'KEYS:WRITE'],
      ['DELETE', `/v1/api-keys/${live.id}`, undefined, 'KEYS:WRITE'],
    ] as const;
    for (const [method, path, body, permission] of calls) {
      expect({ method, path, ...pick(await stack.call(method, path, { key: testKey.key, body })) }).toEqual({ method, path, ...missing(permission) });
    }
    // Header tricks name nothing: only the Bearer key's own permissions count.
    const headers = { 'x-keyplane-environment': 'live', 'x-keyplane-account-id': 'acc_root', 'x-keyplane-key-id': `key_${'0'.repeat(26)}`, 'x-forwarded-for': '127.0.0.1' };
    expect(pick(await stack.call('POST', `/v1/api-keys/${live.id}/revoke`, { key: testKey.key, body: {}, headers }))).toEqual(missing('KEYS:WRITE'));
    expect(await eventCount()).toBe(before);
    expect((await stack.call('GET', '/v1/flows', { key: live.key })).status).toBe(200);
  });

  it('on the keys service too, a test key as stored cannot issue, change, rotate or revoke a live key (403), whatever permissions its actor claims', async () => {
    const testKey = await stack.createKey({ name: 'test caller', environment: 'test', permissions: ['FLOWS:READ'] });
    const live = await stack.createKey({ name: 'live target', permissions: ['FLOWS:READ'] });
    const actor = actorOf(testKey.id, ['*'], 'test');
    const before = await eventCount();
    for (const [subject, data] of [
      ['issue', { actor, name: 'x', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret() }],
      ['update', { actor, keyId: live.id, name: 'x' }],
      ['rotate', { actor, keyId: live.id, gracePeriodSeconds: 0, secret: newSecret() }],
      ['revoke', { actor, keyId: live.id }],
    ] as const) {
      expect({ subject, reply: await asGateway(subject, data) }).toEqual({ subject, reply: forbidden('A test key cannot manage live keys') });
    }
    // Granting is judged on what the test key holds, not on the `*` its actor claims.
    const granted = await asGateway('issue', { actor, name: 'x', environment: 'test', permissions: ['RECORDS:READ'], secret: newSecret('test') });
    expect(granted).toEqual(forbidden('permissions[0]: cannot grant "RECORDS:READ" without holding it'));
    expect(await eventCount()).toBe(before);
  });
});

describe('account boundaries (docs/api.md: another account’s key answers like a missing one)', () => {
  let other: { key: string; id: string };
  beforeAll(async () => {
    other = await stack.createAccountAdmin('acc_authz_other');
  });

  it('a cursor handed to one account pages only through the other account’s own keys and audit events', async () => {
    for (let i = 0; i < 3; i++) await stack.createKey({ name: `root ${i}`, permissions: ['FLOWS:READ'] });
    await stack.createKey({ name: 'other child', permissions: ['FLOWS:READ'] }, other.key);
    const rootList = await stack.call('GET', '/v1/api-keys?limit=1');
    const rootAudit = await stack.call('GET', '/v1/audit/events?limit=1');
    expect([rootList.body.nextCursor, rootAudit.body.nextCursor].every((c) => typeof c === 'string')).toBe(true);
    const list = await stack.call('GET', `/v1/api-keys?limit=1000&cursor=${rootList.body.nextCursor}`, { key: other.key });
    const audit = await stack.call('GET', `/v1/audit/events?limit=1000&cursor=${rootAudit.body.nextCursor}`, { key: other.key });
    expect([list.status, audit.status]).toEqual([200, 200]);
    expect(new Set([...list.body.data, ...audit.body.data].map((item: any) => item.accountId))).toEqual(new Set(['acc_authz_other']));
  });

  it('another account’s revoked or expired key is 404 on every call, never the 409 that would tell it exists', async () => {
    const revoked = await stack.createKey({ name: 'gone', permissions: ['FLOWS:READ'] }, other.key);
    expect((await stack.call('POST', `/v1/api-keys/${revoked.id}/revoke`, { key: other.key, body: {} })).status).toBe(200);
    const expiresAt = new Date(Date.now() + 3000).toISOString();
    const expiring = await stack.createKey({ name: 'expiring', permissions: ['FLOWS:READ'], expiresAt }, other.key);
    await sleep(Date.parse(expiresAt) - Date.now() + 50);
    for (const id of [revoked.id, expiring.id]) {
      for (const [method, suffix, body] of [
        ['PATCH', '', { name: 'x' }],
        ['POST', '/rotate', {}],
        ['POST', '/revoke', {}],
        ['DELETE', '', undefined],
        ['GET', '/usage', undefined],
        ['GET', '/events', undefined],
      ] as const) {
        const answer = await stack.call(method, `/v1/api-keys/${id}${suffix}`, { body });
        expect({ method, suffix, ...pick(answer) }).toEqual({ method, suffix, status: 404, body: { error: 'Not Found', details: `API key ${id} not found` } });
      }
    }
  });
});

describe('self-lockout and the last admin (docs/api.md "Keys": allowed, as in Stripe and GitHub; recovery is the operator’s)', () => {
  it('a lesser key may narrow the account’s admin and revoke itself, leaving the account with no key that manages keys', async () => {
    const admin = await stack.createAccountAdmin('acc_lockout');
    const lesser = await stack.createKey({ name: 'lesser', permissions: ['KEYS:WRITE', 'FLOWS:READ'] }, admin.key);
    const narrowed = await stack.call('PATCH', `/v1/api-keys/${admin.id}`, { key: lesser.key, body: { permissions: ['FLOWS:READ'] } });
    expect({ status: narrowed.status, permissions: narrowed.body.permissions }).toEqual({ status: 200, permissions: ['FLOWS:READ'] });
    await waitFor(
      'the admin to lose KEYS:WRITE',
      async () => (await stack.call('POST', '/v1/api-keys', { key: admin.key, body: { name: 'x', permissions: ['FLOWS:READ'] } })).status === 403,
      10_000,
    );
    const selfRevoked = await stack.call('DELETE', `/v1/api-keys/${lesser.id}`, { key: lesser.key });
    expect({ status: selfRevoked.status, revoked: selfRevoked.body.status }).toEqual({ status: 200, revoked: 'revoked' });
    await waitFor('the lesser key to be revoked', async () => (await stack.call('GET', '/v1/flows', { key: lesser.key })).status === 401, 10_000);
    expect(pick(await stack.call('PATCH', `/v1/api-keys/${admin.id}`, { key: admin.key, body: { permissions: ['*'] } }))).toEqual({
      status: 403,
      body: { error: 'Forbidden', details: 'Missing required permission: KEYS:WRITE' },
    });
  });

  it('the bootstrap admin may revoke itself; a restart with the same BOOTSTRAP_ADMIN_KEY does not bring it back, a new one makes a new admin', async () => {
    const [admin] = (await stack.call('GET', '/v1/api-keys?limit=1000')).body.data.filter((k: any) => k.name === 'bootstrap admin');
    const revoked = await stack.call('POST', `/v1/api-keys/${admin.id}/revoke`, { body: { reason: 'leaving' } });
    expect({ status: revoked.status, state: revoked.body.status }).toEqual({ status: 200, state: 'revoked' });
    await waitFor('the admin to be revoked', async () => (await stack.call('GET', '/v1/api-keys')).status === 401, 10_000);

    const keysEnv = { NATS_URL: TEST_NATS_URL, NATS_PREFIX: stack.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', DATABASE_URL: stack.databaseUrl };
    await stack.stopKeys();
    restartedKeys = await startKeysService(loadKeysConfig({ ...keysEnv, BOOTSTRAP_ADMIN_KEY: stack.adminKey }), { logDestination: stack.logs });
    expect(pick(await stack.call('GET', '/v1/api-keys'))).toEqual({ status: 401, body: { error: 'Unauthorized', details: 'API key has been revoked' } });

    await restartedKeys.close();
    restartedKeys = undefined;
    const replacement = generateKey({ environment: 'live' }).key;
    restartedKeys = await startKeysService(loadKeysConfig({ ...keysEnv, BOOTSTRAP_ADMIN_KEY: replacement }), { logDestination: stack.logs });
    const list = await stack.call('GET', '/v1/api-keys?limit=1000', { key: replacement });
    expect(list.status).toBe(200);
    const admins = list.body.data.filter((k: any) => k.name === 'bootstrap admin').map((k: any) => ({ status: k.status, permissions: k.permissions, accountId: k.accountId }));
    expect(admins).toEqual([
      { status: 'active', permissions: ['*'], accountId: 'acc_root' },
      { status: 'revoked', permissions: ['*'], accountId: 'acc_root' },
    ]);
  }, 60_000);
});
