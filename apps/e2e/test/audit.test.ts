import { createHash } from 'node:crypto';
import { sleep, startStack, type Answer, type Stack } from './stack.js';

// DESIGN §7 `GET /v1/audit/events`: a key's lifecycle, newest first, each event naming the
// key that caused it, filtered by key, type and time, paged with a cursor.

let stack: Stack;
let adminId: string;
let manager: { key: string; id: string };
let audited: { key: string; id: string };
let rotatedSecret: string;

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

beforeAll(async () => {
  stack = await startStack('e2e_audit');
  const keys = await stack.call('GET', '/v1/api-keys');
  adminId = keys.body.data.find((key: { name: string }) => key.name === 'bootstrap admin').id;
  manager = await stack.createKey({ name: 'manager', permissions: ['KEYS:*', 'AUDIT:READ', 'FLOWS:*'] });
  // The manager issues, renames and rotates; the admin changes permissions and revokes. The
  // pauses keep each step in a millisecond of its own, for the time filter below.
  audited = await stack.createKey({ name: 'audited', permissions: ['FLOWS:READ'] }, manager.key);
  await sleep(5);
  await expectOk(stack.call('PATCH', `/v1/api-keys/${audited.id}`, { key: manager.key, body: { name: 'audited, renamed' } }));
  await sleep(5);
  await expectOk(stack.call('PATCH', `/v1/api-keys/${audited.id}`, { body: { permissions: ['FLOWS:READ', 'FLOWS:WRITE'] } }));
  await sleep(5);
  rotatedSecret = (await expectOk(stack.call('POST', `/v1/api-keys/${audited.id}/rotate`, { key: manager.key, body: {} }))).body.key;
  await sleep(5);
  await expectOk(stack.call('POST', `/v1/api-keys/${audited.id}/revoke`, { body: { reason: 'leaked' } }));
});

afterAll(() => stack?.close());

async function expectOk(call: Promise<Answer>): Promise<Answer> {
  const answer = await call;
  if (answer.status !== 200) throw new Error(`answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer;
}

describe('audit events', () => {
  it("lists a key's lifecycle newest first, with who did each step and no secrets", async () => {
    const answer = await stack.call('GET', `/v1/audit/events?keyId=${audited.id}`);
    expect(answer.status).toBe(200);
    expect(answer.body.nextCursor).toBeNull();
    const event = (type: string, actor: string, data: Record<string, unknown>) => ({
      id: expect.any(String),
      type,
      keyId: audited.id,
      accountId: 'acc_root',
      actor,
      occurredAt: expect.stringMatching(ISO),
      data: expect.objectContaining(data),
    });
    expect(answer.body.data).toEqual([
      event('KeyRevoked', adminId, { reason: 'leaked' }),
      event('KeySecretRotated', manager.id, { prefix: rotatedSecret.slice(0, 12), last4: rotatedSecret.slice(-4) }),
      event('KeyPermissionsChanged', adminId, { permissions: ['FLOWS:READ', 'FLOWS:WRITE'] }),
      event('KeyRenamed', manager.id, { name: 'audited, renamed' }),
      event('KeyIssued', manager.id, { name: 'audited', prefix: audited.key.slice(0, 12), last4: audited.key.slice(-4) }),
    ]);
    const text = JSON.stringify(answer.body);
    for (const secret of [audited.key, rotatedSecret]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(createHash('sha256').update(secret).digest('hex'));
    }
  });

  it('filters by type across keys', async () => {
    const issued = await stack.call('GET', '/v1/audit/events?type=KeyIssued');
    const rows = issued.body.data.map((e: { type: string; keyId: string }) => [e.type, e.keyId]);
    expect(rows).toEqual(expect.arrayContaining([['KeyIssued', audited.id], ['KeyIssued', manager.id], ['KeyIssued', adminId]]));
    expect(new Set(rows.map(([type]: [string]) => type))).toEqual(new Set(['KeyIssued']));
  });

  it('filters by time, from included and to excluded', async () => {
    const all = (await stack.call('GET', `/v1/audit/events?keyId=${audited.id}`)).body.data;
    const [revoked, rotated] = all;
    const window = await stack.call('GET', `/v1/audit/events?keyId=${audited.id}&from=${rotated.occurredAt}&to=${revoked.occurredAt}`);
    expect(window.body.data.map((e: { type: string }) => e.type)).toEqual(['KeySecretRotated']);
  });

  it('pages with a cursor', async () => {
    const all = (await stack.call('GET', `/v1/audit/events?keyId=${audited.id}`)).body.data;
    const pages: Answer['body'][] = [];
    let cursor: string | null = null;
    do {
      const page: Answer = await stack.call('GET', `/v1/audit/events?keyId=${audited.id}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      pages.push(page.body);
      cursor = page.body.nextCursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages.map((page) => page.data.length)).toEqual([2, 2, 1]);
    expect(pages.flatMap((page) => page.data)).toEqual(all);
  });

  it.each([
    ['type=KeyDeleted', /^type: Invalid option: expected one of "KeyIssued"/],
    ['keyId=nope', /^keyId: expected a key id like key_01J\.\.\.$/],
    ['from=yesterday', /^from: must be an ISO 8601 date-time$/],
    ['limit=0', /^limit: Too small: expected number to be >=1$/],
    ['cursor=not-a-cursor', /^cursor: not a cursor this query returned$/],
    ['actor=me', /^unknown query parameter "actor"$/],
  ])('answers a bad parameter (%s) with a 400 naming it', async (query, details) => {
    const answer = await stack.call('GET', `/v1/audit/events?${query}`);
    expect(answer).toMatchObject({ status: 400, body: { error: 'Bad Request' } });
    expect(answer.body.details).toMatch(details);
  });

  it('needs AUDIT:READ', async () => {
    const { key } = await stack.createKey({ permissions: ['KEYS:READ'] });
    expect(await stack.call('GET', '/v1/audit/events', { key })).toMatchObject({
      status: 403,
      body: { error: 'Forbidden', details: 'Missing required permission: AUDIT:READ' },
    });
  });
});
