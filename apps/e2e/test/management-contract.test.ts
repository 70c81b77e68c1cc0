/* eslint-disable @typescript-eslint/no-explicit-any */
import type { ServiceHandle } from '@keyplane/runtime';
import { fingerprint, generateKey } from '@keyplane/key-format';
import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import { CapturedLogs, freshDatabase, freshNamespace, TEST_NATS_URL } from '@keyplane/testing';
import { loadKeysConfig } from '../../keys/src/config.js';
import { startKeysService } from '../../keys/src/start.js';
import { startStack, type Answer, type Stack } from './stack.js';

// An audit of the key management API and its audit trail (DESIGN §3, §4, §7, §8, docs/api.md,
// apps/keys/README.md): a configured KEY_PREFIX, a PATCH that sends a key's permissions back
// unchanged, caching of management answers, and the bootstrap admin key across a restart after
// its secret was rotated out.

let stack: Stack;
/** A keys service started here in place of the stack's, closed before the stack. */
let restartedKeys: ServiceHandle | undefined;

beforeAll(async () => {
  stack = await startStack('e2e_management_contract');
}, 60_000);

afterAll(async () => {
  await restartedKeys?.close();
  await stack?.close();
});

const pick = (a: Answer) => ({ status: a.status, body: a.body });

/** A call to another gateway of the stack, as stack.call makes them. */
async function callAt(url: string, method: string, path: string, key: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** The first key of an account, issued on the keys service's own subject as the gateway would, with a secret made here. */
async function issueAccountAdmin(accountId: string, secret: string): Promise<any> {
  const nc = await connectNats({ url: TEST_NATS_URL, name: 'e2e-management-contract' });
  try {
    const subject = stack.ns.subjects.keys.issue;
    const actor = { keyId: `key_${'0'.repeat(26)}`, accountId, environment: 'live', permissions: ['*'] };
    const data = { actor, name: `${accountId} admin`, environment: 'live', permissions: ['*'], secret: fingerprint(secret) };
    const message = await nc.request(subject, encodeJson({ pattern: subject, id: accountId, data }), { timeout: 10_000 });
    return (decodeJson(message.data) as { response: unknown }).response;
  } finally {
    await nc.close();
  }
}

describe('a KEY_PREFIX of 8 or more characters (DESIGN §3: KEY_PREFIX is 1–16 lowercase letters or digits)', () => {
  it('the keys service starts on an empty store and generates its admin key with that prefix', async () => {
    const database = await freshDatabase('e2e_management_prefix');
    const namespace = freshNamespace();
    const logs = new CapturedLogs();
    let keys: ServiceHandle | undefined;
    try {
      const env = { NATS_PREFIX: namespace.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, DATABASE_URL: database.url, KEY_PREFIX: 'keyplane' };
      keys = await startKeysService(loadKeysConfig(env), { logDestination: logs });
      const created = logs.lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'bootstrap admin key created');
      expect(created?.bootstrapAdminKey).toMatch(/^keyplane_live_[0-9A-Za-z]{38}$/);
    } finally {
      await keys?.close();
      await namespace.cleanup();
      await database.drop();
    }
  });

  it('keys of both environments are issued, shown and rotated through a gateway with that prefix', async () => {
    const admin = generateKey({ prefix: 'keyplane', environment: 'live' }).key;
    const issued = await issueAccountAdmin('acc_keyplane', admin);
    expect(issued).toMatchObject({ ok: true, value: { key: { prefix: admin.slice(0, 12), last4: admin.slice(-4) } } });

    const gateway = await stack.startGateway({ KEY_PREFIX: 'keyplane' });
    for (const environment of ['live', 'test'] as const) {
      const created = await callAt(gateway.url, 'POST', '/v1/api-keys', admin, { name: environment, environment, permissions: ['FLOWS:READ'] });
      expect({ status: created.status, environment: created.body.environment }).toEqual({ status: 201, environment });
      const secret: string = created.body.key;
      expect(secret).toMatch(new RegExp(`^keyplane_${environment}_[0-9A-Za-z]{38}$`));
      expect({ prefix: created.body.prefix, last4: created.body.last4 }).toEqual({ prefix: secret.slice(0, 12), last4: secret.slice(-4) });

      const rotated = await callAt(gateway.url, 'POST', `/v1/api-keys/${created.body.id}/rotate`, admin, {});
      expect(rotated.status).toBe(200);
      expect(rotated.body.key).toMatch(new RegExp(`^keyplane_${environment}_[0-9A-Za-z]{38}$`));
      expect(rotated.body.prefix).toBe(rotated.body.key.slice(0, 12));
    }
  });
});

describe('PATCH sends the key back unchanged (docs/api.md: only granting is bounded by the caller’s permissions)', () => {
  it('an operator that may rename a key may send its unchanged permissions along: 200, and no permission change is stored', async () => {
    const operator = await stack.createKey({ name: 'operator', permissions: ['KEYS:WRITE', 'KEYS:READ', 'AUDIT:READ'] });
    const strong = await stack.createKey({ name: 'strong', permissions: ['FLOWS:*', 'RECORDS:READ'] });
    // What a client does when it edits a key: GET it, change a field, PATCH the fields back.
    const fetched = await stack.call('GET', `/v1/api-keys/${strong.id}`, { key: operator.key });
    const { permissions, rateLimits } = fetched.body;
    const patched = await stack.call('PATCH', `/v1/api-keys/${strong.id}`, { key: operator.key, body: { name: 'strong, renamed', permissions, rateLimits } });
    expect(pick(patched)).toEqual({ status: 200, body: { ...strong.object, name: 'strong, renamed' } });

    const audit = await stack.call('GET', `/v1/audit/events?keyId=${strong.id}`, { key: operator.key });
    expect(audit.body.data.map((event: any) => [event.type, event.actor])).toEqual([
      ['KeyRenamed', operator.id],
      ['KeyIssued', expect.stringMatching(/^key_/)],
    ]);
  });

  it('a change of those permissions is still a grant: reordering them is 403 and stores nothing', async () => {
    const operator = await stack.createKey({ name: 'operator', permissions: ['KEYS:WRITE', 'AUDIT:READ'] });
    const strong = await stack.createKey({ name: 'strong', permissions: ['FLOWS:*', 'RECORDS:READ'] });
    const answer = await stack.call('PATCH', `/v1/api-keys/${strong.id}`, { key: operator.key, body: { permissions: ['RECORDS:READ', 'FLOWS:*'] } });
    expect(pick(answer)).toEqual({ status: 403, body: { error: 'Forbidden', details: 'permissions[0]: cannot grant "RECORDS:READ" without holding it' } });
    const audit = await stack.call('GET', `/v1/audit/events?keyId=${strong.id}`, { key: operator.key });
    expect(audit.body.data.map((event: any) => event.type)).toEqual(['KeyIssued']);
  });
});

describe('caching (a secret is shown once: Stripe answers its API with no-store)', () => {
  it('every management answer, the secret-bearing create and rotate first, says Cache-Control: no-store; a proxied answer keeps its own', async () => {
    const created = await stack.call('POST', '/v1/api-keys', { body: { name: 'cached?', permissions: ['FLOWS:READ'] } });
    const rotated = await stack.call('POST', `/v1/api-keys/${created.body.id}/rotate`, { body: {} });
    const fetched = await stack.call('GET', `/v1/api-keys/${created.body.id}`);
    const missing = await stack.call('GET', `/v1/api-keys/key_${'0'.repeat(26)}`);
    const answers = [created, rotated, fetched, missing].map((answer) => [answer.status, answer.headers.get('cache-control')]);
    expect(answers).toEqual([
      [201, 'no-store'],
      [200, 'no-store'],
      [200, 'no-store'],
      [404, 'no-store'],
    ]);
    const proxied = await stack.call('GET', '/v1/flows', { key: rotated.body.key });
    expect([proxied.status, proxied.headers.get('cache-control')]).toEqual([200, null]);
  });
});

describe('the bootstrap admin key across restarts (DESIGN §7: idempotent; apps/keys/README.md: a rotated-out key does not come back)', () => {
  it('after its secret was rotated out twice, a restart with the same BOOTSTRAP_ADMIN_KEY issues no second admin key', async () => {
    const admins = async (key: string) => (await stack.call('GET', '/v1/api-keys?limit=1000', { key })).body.data.filter((k: any) => k.name === 'bootstrap admin');
    const [admin] = await admins(stack.adminKey);
    const first = await stack.call('POST', `/v1/api-keys/${admin.id}/rotate`, { body: {} });
    const second = await stack.call('POST', `/v1/api-keys/${admin.id}/rotate`, { key: first.body.key, body: {} });
    expect([first.status, second.status]).toEqual([200, 200]);
    const current: string = second.body.key;

    await stack.stopKeys();
    const env = { NATS_PREFIX: stack.ns.prefix, HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, DATABASE_URL: stack.databaseUrl, BOOTSTRAP_ADMIN_KEY: stack.adminKey };
    restartedKeys = await startKeysService(loadKeysConfig(env), { logDestination: stack.logs });

    expect((await admins(current)).map((k: any) => k.id)).toEqual([admin.id]);
    const issuedBySystem = (await stack.call('GET', '/v1/audit/events?type=KeyIssued&limit=1000', { key: current })).body.data.filter((e: any) => e.actor === 'system');
    expect(issuedBySystem.map((e: any) => e.keyId)).toEqual([admin.id]);
    expect(pick(await stack.call('GET', '/v1/api-keys', { key: stack.adminKey }))).toEqual({
      status: 401,
      body: { error: 'Unauthorized', details: 'Invalid or missing API key' },
    });
  });
});
