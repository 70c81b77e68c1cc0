import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { UsageBatch, usageBatchMessageId, type Namespace, type UsageRecorded } from '@keyplane/contracts';
import { waitFor, type FreshNamespace } from '@keyplane/testing';
import { UsagePublisher } from '../src/usage/usage-publisher.js';
import { issued, revoked } from './support/key-events.js';
import { awayFromWindowEdge, startReplica, startTestbed, type Gateway, type KeyEventPublisher, type Replica, type Testbed } from './support/harness.js';

let nats: FreshNamespace;
let replica: Replica;
let keys: KeyEventPublisher;
let gateway: Gateway;

let bed: Testbed;

beforeAll(async () => {
  bed = await startTestbed('auth_usage');
  ({ nats, replica, keys, gateway } = bed);
});

afterAll(() => bed?.close());
interface StoredUsage {
  msgId: string | undefined;
  raw: string;
  events: UsageRecorded[];
}

/** Every message on the usage stream, each read as the `UsageBatch` auth publishes. */
async function usageStream(ns: Namespace): Promise<StoredUsage[]> {
  const jsm = await jetstreamManager(keys.nc);
  const { state } = await jsm.streams.info(ns.streams.usageEvents);
  const stored: StoredUsage[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(ns.streams.usageEvents, { seq });
    if (!msg) continue;
    stored.push({ msgId: msg.header?.get('Nats-Msg-Id'), raw: msg.string(), events: UsageBatch.parse(msg.json()).events });
  }
  return stored;
}

const eventsOf = (messages: readonly StoredUsage[]) => messages.flatMap((message) => message.events);

describe('usage events', () => {
  it('go to a usage stream that auth makes when missing, keeping events a week (metering owns the limit)', async () => {
    const jsm = await jetstreamManager(keys.nc);
    const { config } = await jsm.streams.info(nats.ns.streams.usageEvents);
    expect(config).toMatchObject({ subjects: [nats.ns.subjects.usageEvents], max_age: 168 * 3600e9 });
  });

  it('are published once per decision, with the decision, the request and the quota after it', async () => {
    await awayFromWindowEdge();
    const key = issued({ permissions: ['FLOWS:READ'], rateLimits: { hour: 2, day: 100 } });
    const gone = issued();
    for (const event of [key.event, gone.event, revoked(gone.keyId)]) await keys.publish(event);

    await gateway.decide(key.secret.hash, 'FLOWS:READ', { requestId: 'r-allowed', method: 'POST', path: '/v1/flows/f1', userAgent: null });
    await gateway.decide(key.secret.hash, 'FLOWS:WRITE', { requestId: 'r-forbidden' });
    await gateway.decide(key.secret.hash, 'FLOWS:READ', { requestId: 'r-limited' });
    await gateway.decide(gone.secret.hash, 'FLOWS:READ', { requestId: 'r-revoked' });
    await gateway.decide(issued().secret.hash, null, { requestId: 'r-unknown', clientIp: '198.51.100.1' });

    const messages = await waitFor('five usage events', async () => {
      const onStream = await usageStream(nats.ns);
      return eventsOf(onStream).length === 5 ? onStream : undefined;
    });
    const stored = eventsOf(messages);
    const byRequest = Object.fromEntries(stored.map((event) => [event.requestId, event]));

    expect(byRequest['r-allowed']).toEqual({
      type: 'UsageRecorded',
      version: 1,
      eventId: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/),
      occurredAt: expect.any(String),
      keyId: key.keyId,
      accountId: 'acc_test',
      environment: 'live',
      outcome: 'allowed',
      reason: 'ok',
      permission: 'FLOWS:READ',
      method: 'POST',
      path: '/v1/flows/f1',
      clientIp: '203.0.113.7',
      userAgent: null,
      requestId: 'r-allowed',
      hourUsed: 1,
      dayUsed: 1,
      hourLimit: 2,
      dayLimit: 100,
    });
    expect(byRequest['r-forbidden']).toMatchObject({ outcome: 'forbidden', reason: 'missing_permission', permission: 'FLOWS:WRITE', hourUsed: 2, dayUsed: 2 });
    expect(byRequest['r-limited']).toMatchObject({ outcome: 'rate_limited', reason: 'hour_limit', hourUsed: 2, dayUsed: 2, hourLimit: 2, dayLimit: 100 });
    expect(byRequest['r-revoked']).toMatchObject({
      keyId: gone.keyId,
      accountId: 'acc_test',
      environment: 'live',
      outcome: 'unauthorized',
      reason: 'revoked',
      hourUsed: null,
      dayUsed: null,
      hourLimit: null,
      dayLimit: null,
    });
    expect(byRequest['r-unknown']).toMatchObject({
      keyId: null,
      accountId: null,
      environment: null,
      outcome: 'unauthorized',
      reason: 'unknown_key',
      clientIp: '198.51.100.1',
      hourUsed: null,
    });
    for (const { msgId, events } of messages) expect(msgId).toBe(usageBatchMessageId(events));
    const metrics = await (await fetch(`${replica.handle.url}/metrics`)).text();
    expect(metrics).toContain('auth_usage_events_published_total{service="auth"} 5');
    expect(metrics).toContain(`auth_usage_messages_published_total{service="auth"} ${messages.length}`);
    expect(new Set(stored.map((event) => event.eventId)).size).toBe(5);
    for (const secret of [key.secret.key, gone.secret.key]) {
      expect(messages.map(({ raw }) => raw).join('\n')).not.toContain(secret);
    }
  });

  it('survive a stream that refuses them for a while: spilled to Postgres, kept there when close() returns meanwhile, and on it once a replica publishes them', async () => {
    const key = issued({ rateLimits: { hour: 100_000, day: 100_000 } });
    await keys.publish(key.event);
    const onStream = await usageStream(nats.ns);
    const before = eventsOf(onStream).length;
    const jsm = await jetstreamManager(keys.nc);
    const stream = nats.ns.streams.usageEvents;
    await jsm.streams.update(stream, { max_msgs: onStream.length, discard: DiscardPolicy.New });

    const count = 50;
    await Promise.all(Array.from({ length: count }, (_, n) => gateway.decide(key.secret.hash, null, { requestId: `held-${n}` })));
    const usage = replica.handle.app.get(UsagePublisher);
    await waitFor('the refused events to be spilled', () => usage.pending === 0 && replica.logs.text().includes('spilling usage events to Postgres'));

    await replica.handle.close();
    await jsm.streams.update(stream, { max_msgs: -1 });
    expect(eventsOf(await usageStream(nats.ns)).length - before).toBe(0);
    expect(replica.logs.text()).not.toContain('they are lost');

    // The next replica publishes what the stopped one spilled.
    const next = await startReplica(bed.database.url, nats.ns);
    try {
      const after = await waitFor('the spilled events on the stream', async () => {
        const events = eventsOf(await usageStream(nats.ns));
        return events.length - before === count ? events : undefined;
      }, 10_000, 50);
      expect(new Set(after.map((event) => event.requestId).filter((id) => id.startsWith('held-'))).size).toBe(count);
    } finally {
      await next.handle.close();
    }
  });
});
