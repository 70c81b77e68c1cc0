import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ulid } from 'ulid';
import { UsageBatch, type UsageRecorded } from '@keyplane/contracts';
import { fingerprint } from '@keyplane/key-format';
import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import { TEST_NATS_URL, waitFor } from '@keyplane/testing';
import { awayFromHourEnd, hourEndWaitMs, startStack, type Stack } from './stack.js';

// `auth.decide` as its NATS callers see it (DESIGN §1, §2 item 2, §4, §8; libs/contracts/src/auth/decide.ts):
// what it refuses is answered 400 naming the field, decided on nothing, counted nowhere.

let stack: Stack;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  stack = await startStack('e2e_decision_contract');
  nc = await connectNats({ url: TEST_NATS_URL, name: 'decision-contract' });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await stack?.close();
});

beforeEach(() => awayFromHourEnd(10), 5_000 + hourEndWaitMs(10));

function decideRequest(keyHash: string, permission: string | null) {
  return { keyHash, permission, method: 'GET', path: '/v1/flows', clientIp: '198.51.100.9', userAgent: 'probe/1.0', requestId: `req_${ulid()}` };
}

/** Asks auth.decide as the gateway's Nest client does, and returns the Reply. */
async function decide(request: ReturnType<typeof decideRequest>): Promise<unknown> {
  const subject = stack.ns.subjects.auth.decide;
  const message = await nc.request(subject, encodeJson({ pattern: subject, id: ulid(), data: request }), { timeout: 5000 });
  return (decodeJson(message.data) as { response: unknown }).response;
}

/** Every usage event on the stream so far. */
async function usageEvents(): Promise<UsageRecorded[]> {
  const stream = stack.ns.streams.usageEvents;
  const { state } = await jsm.streams.info(stream);
  const events: UsageRecorded[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq });
    if (message) events.push(...UsageBatch.parse(message.json()).events);
  }
  return events;
}

describe('auth.decide: the required permission is one of the catalog (DESIGN §4) or null', () => {
  it.each([
    ['a misspelt resource', 'FLOW:READ'],
    ['lower case', 'flows:read'],
    ['a wildcard the catalog does not have', 'ANALYTICS:*'],
    ['trailing space', 'FLOWS:READ '],
    ['an unknown resource', 'BOGUS:X'],
    ['empty', ''],
  ])('%s (%j) is a 400 naming `permission`: not decided, not counted, no usage event', async (_what, permission) => {
    const { key, id } = await stack.createKey({ permissions: ['*'], rateLimits: { hour: 5, day: 50 } });
    const keyHash = fingerprint(key).secretHash;
    const refused = decideRequest(keyHash, permission);
    expect(await decide(refused)).toEqual({
      ok: false,
      error: { status: 400, error: 'Bad Request', details: `permission: unknown permission ${JSON.stringify(permission)}` },
    });

    // The next valid request is the key's first counted one, and its usage event the key's only one.
    const valid = decideRequest(keyHash, 'FLOWS:READ');
    expect(await decide(valid)).toMatchObject({ ok: true, value: { outcome: 'allowed', limits: { hour: { used: 1 }, day: { used: 1 } } } });
    const events = await waitFor('the valid request’s usage event', async () => {
      const all = (await usageEvents()).filter((event) => event.keyId === id || event.requestId === refused.requestId);
      return all.some((event) => event.requestId === valid.requestId) ? all : undefined;
    });
    expect(events.map((event) => event.requestId)).toEqual([valid.requestId]);
  });

  it('null (a path outside the route table) and every catalog permission are decided', async () => {
    const { key } = await stack.createKey({ permissions: ['*'] });
    const keyHash = fingerprint(key).secretHash;
    for (const permission of [null, '*', 'FLOWS:*', 'FLOWS:EXECUTE', 'ANALYTICS:READ', 'AUDIT:READ']) {
      expect({ permission, reply: await decide(decideRequest(keyHash, permission)) }).toMatchObject({ permission, reply: { ok: true, value: { outcome: 'allowed' } } });
    }
  });
});
