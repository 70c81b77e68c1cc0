import type { IssuedKey, KeyObject } from '@keyplane/contracts';
import { decodeJson, encodeJson } from '@keyplane/nats';
import { actor, countEvents, keysTestEnv, newSecret, randomKeyId, type KeysTestEnv } from './support/harness.js';

let env: KeysTestEnv;
let liveKey: KeyObject;
const liveSecret = newSecret();
const admin = actor('acc_acme');
const subjects = () => env.ns.subjects.keys;

beforeAll(async () => {
  env = await keysTestEnv('keys_bad_input');
  await env.start();
  const reply = await env.send<IssuedKey>(subjects().issue, {
    actor: admin,
    name: 'target',
    environment: 'live',
    permissions: ['FLOWS:READ', 'RECORDS:READ'],
    secret: liveSecret.fingerprint,
  });
  if (!reply.ok) throw new Error(JSON.stringify(reply.error));
  liveKey = reply.value.key;
});

afterAll(async () => {
  await env?.close();
});

const validIssue = () => ({ actor: admin, name: 'CI deploy', environment: 'live', permissions: ['FLOWS:READ'], secret: newSecret().fingerprint });
const error = (status: number, details: string) => {
  const titles: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict' };
  return { ok: false, error: { status, error: titles[status], details } };
};

/** Sends, expects exactly `expected`, and checks the event store did not grow. */
async function expectRejected(subject: string, payload: unknown, expected: ReturnType<typeof error>) {
  const before = await countEvents(env.db);
  expect(await env.send(subject, payload)).toEqual(expected);
  expect(await countEvents(env.db)).toBe(before);
}

describe('malformed messages get a 400 naming the field, and store nothing', () => {
  it.each([
    ['a missing name', () => ({ ...validIssue(), name: undefined }), 'name: Invalid input: expected string, received undefined'],
    ['a blank name', () => ({ ...validIssue(), name: '   ' }), 'name: must not be empty'],
    ['permissions of the wrong type', () => ({ ...validIssue(), permissions: 'FLOWS:READ' }), 'permissions: Invalid input: expected array, received string'],
    ['a permission of the wrong type', () => ({ ...validIssue(), permissions: ['FLOWS:READ', 7] }), 'permissions[1]: Invalid input: expected string, received number'],
    ['an unknown environment', () => ({ ...validIssue(), environment: 'prod' }), 'environment: Invalid option: expected one of "live"|"test"'],
    ['a negative rate limit', () => ({ ...validIssue(), rateLimits: { hour: -1 } }), 'rateLimits.hour: Too small: expected number to be >0'],
    ['a secret instead of its fingerprint', () => ({ ...validIssue(), secret: newSecret().key }), 'secret: Invalid input: expected object, received string'],
    ['an unknown field', () => ({ ...validIssue(), key: newSecret().key }), 'Unrecognized key: "key"'],
    ['a missing actor', () => ({ ...validIssue(), actor: undefined }), 'actor: Invalid input: expected object, received undefined'],
  ])('issue with %s', async (_case, payload, details) => {
    await expectRejected(subjects().issue, payload(), error(400, details));
  });

  it('a message with no data, or not even JSON, over plain NATS', async () => {
    const before = await countEvents(env.db);
    const empty = await env.nc.request(subjects().issue, encodeJson({ pattern: subjects().issue, data: null, id: 'raw-1' }), { timeout: 5000 });
    expect(decodeJson(empty.data)).toEqual({ id: 'raw-1', isDisposed: true, response: error(400, 'Invalid input: expected object, received null') });
    // Not JSON, so no request id to answer with: the answer has none, and nothing is done.
    const garbage = await env.nc.request(subjects().issue, new TextEncoder().encode('{not json'), { timeout: 5000 });
    expect(decodeJson(garbage.data)).toEqual({ id: null, isDisposed: true, response: error(400, 'the message is not JSON') });
    expect(await countEvents(env.db)).toBe(before);
    // Still serving after both.
    expect(await env.send(subjects().get, { actor: admin, keyId: liveKey.id })).toEqual({ ok: true, value: liveKey });
  });

  it('rotate without a grace period or with a malformed key id', async () => {
    await expectRejected(
      subjects().rotate,
      { actor: admin, keyId: liveKey.id, secret: newSecret().fingerprint },
      error(400, 'gracePeriodSeconds: Invalid input: expected number, received undefined'),
    );
    await expectRejected(
      subjects().rotate,
      { actor: admin, keyId: 'key_nope', gracePeriodSeconds: 0, secret: newSecret().fingerprint },
      error(400, 'keyId: expected a key id like key_01J...'),
    );
  });

  it('an expiry in the past', async () => {
    await expectRejected(subjects().issue, { ...validIssue(), expiresAt: '2020-01-01T00:00:00.000Z' }, error(400, 'expiresAt: must be in the future'));
  });
});

describe('the grant rule', () => {
  it('rejects unknown permissions', async () => {
    await expectRejected(subjects().issue, { ...validIssue(), permissions: ['FLOWS:READ', 'FLOW:READ'] }, error(400, 'permissions[1]: unknown permission "FLOW:READ"'));
    await expectRejected(subjects().update, { actor: admin, keyId: liveKey.id, permissions: ['ADMIN'] }, error(400, 'permissions[0]: unknown permission "ADMIN"'));
  });

  it('never gives a test key *, KEYS: or AUDIT:', async () => {
    const test = newSecret('test').fingerprint;
    await expectRejected(subjects().issue, { ...validIssue(), environment: 'test', permissions: ['*'], secret: test }, error(400, 'permissions[0]: test keys cannot be granted "*"'));
    await expectRejected(
      subjects().issue,
      { ...validIssue(), environment: 'test', permissions: ['FLOWS:READ', 'KEYS:WRITE'], secret: test },
      error(400, 'permissions[1]: test keys cannot be granted "KEYS:WRITE"'),
    );
  });

  it('does not let a caller grant what it does not hold', async () => {
    const limited = actor('acc_acme', ['KEYS:WRITE', 'FLOWS:READ']);
    await expectRejected(
      subjects().issue,
      { ...validIssue(), actor: limited, permissions: ['FLOWS:READ', 'FLOWS:WRITE'] },
      error(403, 'permissions[1]: cannot grant "FLOWS:WRITE" without holding it'),
    );
    await expectRejected(
      subjects().update,
      { actor: limited, keyId: liveKey.id, permissions: ['FLOWS:*'] },
      error(403, 'permissions[0]: cannot grant "FLOWS:*" without holding it'),
    );
    // Rotating hands over a secret with all of the key's permissions.
    await expectRejected(
      subjects().rotate,
      { actor: limited, keyId: liveKey.id, gracePeriodSeconds: 0, secret: newSecret().fingerprint },
      error(403, 'permissions[1]: cannot grant "RECORDS:READ" without holding it'),
    );
  });

  it('does not let a test key create or change live keys', async () => {
    const tester = actor('acc_acme', ['FLOWS:READ'], 'test');
    await expectRejected(subjects().issue, { ...validIssue(), actor: tester }, error(403, 'A test key cannot manage live keys'));
    await expectRejected(subjects().revoke, { actor: tester, keyId: liveKey.id }, error(403, 'A test key cannot manage live keys'));
    await expectRejected(subjects().update, { actor: tester, keyId: liveKey.id, name: 'mine' }, error(403, 'A test key cannot manage live keys'));
  });
});

describe('secrets', () => {
  it('refuses to rotate to a secret some key already holds, its own current one included', async () => {
    await expectRejected(
      subjects().rotate,
      { actor: admin, keyId: liveKey.id, gracePeriodSeconds: 0, secret: liveSecret.fingerprint },
      error(409, 'secret: already in use by an API key'),
    );
  });

  it('refuses a secret made for the other environment', async () => {
    await expectRejected(subjects().issue, { ...validIssue(), secret: newSecret('test').fingerprint }, error(400, 'secret.displayPrefix: is not a live key'));
  });
});

describe('other accounts', () => {
  const stranger = actor('acc_other');

  it('see another account’s key exactly like a key that does not exist', async () => {
    const missing = randomKeyId();
    for (const keyId of [liveKey.id, missing]) {
      const notFound = error(404, `API key ${keyId} not found`);
      await expectRejected(subjects().rotate, { actor: stranger, keyId, gracePeriodSeconds: 0, secret: newSecret().fingerprint }, notFound);
      await expectRejected(subjects().revoke, { actor: stranger, keyId }, notFound);
      await expectRejected(subjects().update, { actor: stranger, keyId, name: 'mine' }, notFound);
      await expectRejected(subjects().get, { actor: stranger, keyId }, notFound);
    }
  });

  it('leave the key untouched', async () => {
    expect(await env.send(subjects().get, { actor: admin, keyId: liveKey.id })).toEqual({ ok: true, value: liveKey });
  });
});
