import { jest } from '@jest/globals';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import {
  AlertsRequest,
  AuditEventsRequest,
  fail,
  GetKeyRequest,
  IssueKeyRequest,
  LastUsedRequest,
  ListKeysRequest,
  namespace,
  parse,
  type Reply,
  RevokeKeyRequest,
  RotateKeyRequest,
  UpdateKeyRequest,
  UsageEventsRequest,
  UsageWindowsRequest,
} from '@keyplane/contracts';
import { connectNats, decodeJson, encodeJson } from '@keyplane/nats';
import { freshNamespace, TEST_NATS_URL, type FreshNamespace } from '@keyplane/testing';
import type { GatewayHandle } from '../../gateway/src/start.js';
import { startStack, type Stack } from './stack.js';

// A rolling upgrade runs pods of two releases side by side on one NATS. Receivers parse messages
// with strict schemas, so a field one release adds is refused, unread, by a receiver of the other.
// The older peer here is a responder on a subject prefix of its own that parses each keys and
// metering message with the schema of the release before this one (no `requestId`, and keys
// messages no `recheck`), answers a refusal as that release's keys and metering do, and hands what
// it accepts to this stack's keys and metering. A gateway of this release in front of it is a new
// gateway with old keys and metering.

jest.setTimeout(120_000);

const unprefixed = namespace('').subjects;

/** The keys commands and queries and the metering queries as the release before parsed them. */
const previousRelease: Record<string, z.ZodType> = {
  [unprefixed.keys.issue]: IssueKeyRequest.omit({ requestId: true, recheck: true }),
  [unprefixed.keys.rotate]: RotateKeyRequest.omit({ requestId: true, recheck: true }),
  [unprefixed.keys.revoke]: RevokeKeyRequest.omit({ requestId: true, recheck: true }),
  [unprefixed.keys.update]: UpdateKeyRequest.omit({ requestId: true, recheck: true }),
  [unprefixed.keys.get]: GetKeyRequest.omit({ requestId: true, recheck: true }),
  [unprefixed.keys.list]: ListKeysRequest.omit({ requestId: true, recheck: true }),
  [unprefixed.keys.audit]: AuditEventsRequest.omit({ requestId: true, recheck: true }),
  [unprefixed.metering.usage]: UsageWindowsRequest.omit({ requestId: true }),
  [unprefixed.metering.events]: UsageEventsRequest.omit({ requestId: true }),
  [unprefixed.metering.alerts]: AlertsRequest.omit({ requestId: true }),
  [unprefixed.metering.lastUsed]: LastUsedRequest.omit({ requestId: true }),
};

interface Received {
  subject: string;
  withRequestId: boolean;
  refused: boolean;
}

let stack: Stack;
let older: FreshNamespace;
let nc: NatsConnection;
let relay: Subscription;
let gateway: GatewayHandle;
const received: Received[] = [];

/** Answers `msg` as the previous release would: its strict parse first, then this stack's own service. */
async function answerAsPreviousRelease(msg: Msg): Promise<void> {
  const subject = msg.subject.slice(older.ns.prefix.length + 1);
  const schema = previousRelease[subject];
  if (schema) {
    const { id, data } = decodeJson(msg.data) as { id: string; data: Record<string, unknown> };
    const parsed = parse(schema, data);
    received.push({ subject, withRequestId: 'requestId' in data, refused: !parsed.ok });
    if (!parsed.ok) {
      msg.respond(encodeJson({ id, response: fail(parsed.error) satisfies Reply<never>, isDisposed: true }));
      return;
    }
  }
  const answer = await nc.request(`${stack.ns.prefix}.${subject}`, msg.data, { headers: msg.headers, timeout: 10_000 });
  msg.respond(answer.data, { headers: answer.headers });
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const response = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json() };
}

beforeAll(async () => {
  stack = await startStack('version_skew', { metering: {} });
  older = freshNamespace();
  nc = await connectNats({ url: TEST_NATS_URL, name: 'version-skew' });
  relay = nc.subscribe(`${older.ns.prefix}.>`, { callback: (_error, msg) => void answerAsPreviousRelease(msg) });
  gateway = await stack.startGateway({ NATS_PREFIX: older.ns.prefix });
});

afterAll(async () => {
  await stack?.close();
  relay?.unsubscribe();
  await nc?.close();
  await older?.cleanup();
});

describe('a gateway of this release with keys and metering of the release before', () => {
  it('answers every management call as with keys and metering of its own release, each message sent again without the requestId the older one refused', async () => {
    const created = await call('POST', '/v1/api-keys', { name: 'skew', permissions: ['FLOWS:READ'] });
    expect({ status: created.status, name: created.body.name }).toEqual({ status: 201, name: 'skew' });
    const id: string = created.body.id;
    const statuses = {
      list: (await call('GET', '/v1/api-keys')).status,
      get: (await call('GET', `/v1/api-keys/${id}`)).status,
      update: (await call('PATCH', `/v1/api-keys/${id}`, { name: 'renamed' })).status,
      audit: (await call('GET', `/v1/audit/events?keyId=${id}`)).status,
      usage: (await call('GET', `/v1/api-keys/${id}/usage`)).status,
      events: (await call('GET', `/v1/api-keys/${id}/events`)).status,
      alerts: (await call('GET', '/v1/alerts')).status,
      rotate: (await call('POST', `/v1/api-keys/${id}/rotate`, {})).status,
      revoke: (await call('POST', `/v1/api-keys/${id}/revoke`, {})).status,
    };
    expect(statuses).toEqual({ list: 200, get: 200, update: 200, audit: 200, usage: 200, events: 200, alerts: 200, rotate: 200, revoke: 200 });

    // Each message was refused with requestId (and recheck), and carried out when sent again without them.
    for (const subject of Object.keys(previousRelease)) {
      const seen = received.filter((r) => r.subject === subject).map(({ withRequestId, refused }) => ({ withRequestId, refused }));
      const pair = [
        { withRequestId: true, refused: true },
        { withRequestId: false, refused: false },
      ];
      expect({ subject, seen }).toEqual({ subject, seen: Array.from({ length: Math.max(1, seen.length / 2) }, () => pair).flat() });
    }
    // Stored once each: a refused command did nothing, and the one sent again did it.
    const audit = await stack.call('GET', `/v1/audit/events?keyId=${id}`);
    expect(audit.body.data.map((event: { type: string }) => event.type).sort()).toEqual(['KeyIssued', 'KeyRenamed', 'KeyRevoked', 'KeySecretRotated']);
  });
});

describe('keys and metering of this release with a sender of the next one', () => {
  it('refuse a field they do not know, naming it, and carry out nothing: what a sender falls back on', async () => {
    const keyId = (await stack.createKey({ permissions: ['FLOWS:READ'] })).id;
    const actor = { keyId: 'key_00000000000000000000000000', accountId: 'acc_root', environment: 'live', permissions: ['*'] };
    const ask = async (subject: string, data: object) => {
      const answer = await nc.request(subject, encodeJson({ pattern: subject, id: 'next', data }), { timeout: 10_000 });
      return (decodeJson(answer.data) as { response: Reply<unknown> }).response;
    };
    const refusal = { ok: false, error: { status: 400, error: 'Bad Request', details: 'Unrecognized key: "nextField"' } };
    expect(await ask(stack.ns.subjects.keys.revoke, { actor, keyId, reason: null, nextField: 1 })).toEqual(refusal);
    expect(await ask(stack.ns.subjects.metering.alerts, { accountId: 'acc_root', limit: 10, nextField: 1 })).toEqual(refusal);
    expect((await stack.call('GET', `/v1/api-keys/${keyId}`)).body.status).toBe('active');
  });
});
