import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { sql } from 'kysely';
import { usageBatch, type UsageRecorded } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import type { ServiceHandle } from '@keyplane/runtime';
import { CapturedLogs, keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { startMeteringService } from '../src/start.js';
import { DURABLE_NAME } from '../src/ingest/usage-consumer.js';
import { MeteringHarness } from './support/metering-harness.js';

const POISON_AGENT = 'kp-poison-agent';
class PoisonError extends Error {
  override name = 'PoisonError';
}

// Metering's claims as a chaos engineer reads them (README "Guarantees", docs/operations.md):
// any number of replicas on the one durable consumer count every event once and raise every
// alert once; connections killed under them cost nothing but retries; an event that makes the
// store throw every time holds back only itself; and the lag gauges say what JetStream says.

interface Replica {
  service: ServiceHandle;
  logs: CapturedLogs;
}

async function startReplicas(h: MeteringHarness, count: number): Promise<Replica[]> {
  const replicas: Replica[] = [];
  for (let n = 0; n < count; n++) {
    const logs = new CapturedLogs();
    replicas.push({ service: await startMeteringService(h.config, { logDestination: logs }), logs });
  }
  return replicas;
}

async function metric(replica: Replica, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${replica.service.url}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? NaN);
}

const STORED = /metering_events_ingested_total\{result="stored",service="metering"\} (\d+)/;
const FAILED_BATCH = /storing a usage batch failed|a usage batch failed while Postgres answers/;
const HOUR = 3_600_000;
const at = (base: string, ms: number) => new Date(Date.parse(base) + ms).toISOString();

/**
 * Six keys over four hours, each from its own address (no new_source) and without a baseline
 * (no usage_spike), with the anomalies whose alerts are known in advance: each key exhausts its
 * hour quota once (key 0 twice, in two hours), three addresses each send a burst of 401s, key 1
 * is probed with 403s, key 2's revoked secret is used once.
 */
function traffic(day: string): { events: UsageRecorded[]; alerts: string[] } {
  const keys = [0, 1, 2, 3, 4, 5].map((n) => keyIdOf(`${day.slice(5, 10)}-r${n}`));
  const ip = (n: number) => `10.0.0.${n + 1}`;
  const events: UsageRecorded[] = [];
  const alerts: string[] = [];
  for (const [n, keyId] of keys.entries()) {
    for (let i = 0; i < 600; i++) {
      const outcome = i % 50 === 7 ? 'forbidden' : 'allowed';
      events.push(usageEvent({ keyId, clientIp: ip(n), outcome, occurredAt: at(day, i * 24_000 + n) }));
    }
    events.push(usageEvent({ keyId, clientIp: ip(n), outcome: 'rate_limited', occurredAt: at(day, HOUR + 60_000 + n) }));
    alerts.push(`quota_exhausted|${keyId}|${at(day, HOUR)}`);
  }
  events.push(usageEvent({ keyId: keys[0], clientIp: ip(0), outcome: 'rate_limited', occurredAt: at(day, 3 * HOUR + 5_000) }));
  alerts.push(`quota_exhausted|${keys[0]}|${at(day, 3 * HOUR)}`);
  for (const address of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
    for (let i = 0; i < 30; i++) events.push(usageEvent({ keyId: null, clientIp: address, outcome: 'unauthorized', occurredAt: at(day, 2 * HOUR + i * 1_000) }));
    alerts.push(`auth_failure_burst|ip:${address}|${at(day, 2 * HOUR)}`);
  }
  for (let i = 0; i < 15; i++) events.push(usageEvent({ keyId: keys[1], clientIp: ip(1), outcome: 'forbidden', occurredAt: at(day, 2 * HOUR + 1_800_000 + i * 10_000) }));
  alerts.push(`permission_probe|${keys[1]}|${at(day, 2 * HOUR)}`);
  events.push(usageEvent({ keyId: keys[2], clientIp: ip(2), outcome: 'unauthorized', reason: 'revoked', hourUsed: null, dayUsed: null, hourLimit: null, dayLimit: null, occurredAt: at(day, 3 * HOUR) }));
  alerts.push(`revoked_key_use|${keys[2]}|${at(day, 3 * HOUR)}`);
  return { events, alerts: alerts.sort() };
}

/** Auth's messages: mostly `UsageBatch`es of 20, a few bare events. */
async function publish(h: MeteringHarness, events: readonly UsageRecorded[]): Promise<void> {
  const bare = events.filter((_, n) => n % 97 === 0);
  await h.publishBatches(
    events.filter((_, n) => n % 97 !== 0),
    20,
  );
  await h.publish(bare);
}

function expectedWindows(events: readonly UsageRecorded[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const { keyId, occurredAt } of events) {
    if (keyId === null) continue;
    for (const [granularity, length] of [['hour', HOUR], ['day', 24 * HOUR]] as const) {
      const id = `${keyId}|${granularity}|${new Date(Math.floor(Date.parse(occurredAt) / length) * length).toISOString()}`;
      totals[id] = (totals[id] ?? 0) + 1;
    }
  }
  return totals;
}

async function storedWindows(h: MeteringHarness, day: string): Promise<Record<string, number>> {
  const rows = await h.db.selectFrom('usage_windows').select(['key_id', 'granularity', 'window_start', 'requests']).where('window_start', '>=', new Date(day)).where('window_start', '<', new Date(Date.parse(day) + 24 * HOUR)).execute();
  return Object.fromEntries(rows.map((row) => [`${row.key_id}|${row.granularity}|${row.window_start.toISOString()}`, row.requests]));
}

async function storedAlerts(h: MeteringHarness, day: string): Promise<string[]> {
  const rows = await h.db.selectFrom('alerts').select('dedup_key').where('detected_at', '>=', new Date(day)).where('detected_at', '<', new Date(Date.parse(day) + 24 * HOUR)).orderBy('dedup_key').execute();
  return rows.map((row) => row.dedup_key);
}

async function alertStreamIds(h: MeteringHarness): Promise<string[]> {
  const jsm = await jetstreamManager(h.nc);
  const { state } = await jsm.streams.info(h.ns.streams.alerts);
  const ids: string[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) ids.push(JSON.parse((await jsm.streams.getMessage(h.ns.streams.alerts, { seq }))?.string() ?? '{}').id);
  return ids.sort();
}

describe('metering replicas contract', () => {
  let h: MeteringHarness;
  let replicas: Replica[] = [];

  beforeAll(async () => {
    h = await MeteringHarness.create('replicas', { INGEST_BATCH_SIZE: '50', INGEST_LINGER_MS: '5' });
    // Makes the durable, and h.config for the replicas.
    await h.start();
    await h.stop();
  });

  afterEach(async () => {
    for (const replica of replicas) await replica.service.close();
    replicas = [];
  });

  afterAll(async () => {
    await h.close();
  });

  it('three replicas on the one durable count every event once, raise every alert once, and never fail a batch on each other', async () => {
    const day = '2026-06-01T00:00:00.000Z';
    const { events, alerts } = traffic(day);
    replicas = await startReplicas(h, 3);
    await publish(h, events);
    await h.settled(60_000);

    expect(await storedWindows(h, day)).toEqual(expectedWindows(events));
    const stored = await h.db.selectFrom('usage_events').select((eb) => eb.fn.countAll<number>().as('n')).where('occurred_at', '>=', new Date(day)).executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(events.length);
    // Each event was newly stored by exactly one replica.
    const storedByReplica = await Promise.all(replicas.map((replica) => metric(replica, STORED)));
    expect(storedByReplica.reduce((sum, n) => sum + n, 0)).toBe(events.length);
    expect(await storedAlerts(h, day)).toEqual(alerts);
    await waitFor('every alert on the ALERTS stream', async () => (await alertStreamIds(h)).length >= alerts.length, 15_000);
    const ids = await h.db.selectFrom('alerts').select('id').orderBy('id').execute();
    expect(await alertStreamIds(h)).toEqual(ids.map(({ id }) => id));
    // Taking turns on the advisory lock costs waits, never a failed batch (no deadlock, no lock timeout).
    expect(replicas.flatMap((replica) => replica.logs.lines.filter((line) => FAILED_BATCH.test(line)))).toEqual([]);
    expect(await h.db.selectFrom('dead_letters').select('stream_seq').execute()).toEqual([]);
  }, 120_000);

  it('recovers from its Postgres connections killed again and again under load, without a restart, and counts every event once', async () => {
    const day = '2026-06-02T00:00:00.000Z';
    const { events, alerts } = traffic(day);
    replicas = await startReplicas(h, 2);
    const admin = createKysely<unknown>({ url: h.config.databaseUrl, max: 1 });
    try {
      const publishing = publish(h, events);
      let published = false;
      void publishing.then(() => (published = true));
      // pg_terminate_backend on every connection metering holds, as a failover or an operator would.
      await waitFor(
        'metering to fail a batch on a killed connection, and the traffic to be out',
        async () => {
          await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'metering' AND datname = current_database()`.execute(admin);
          return published && replicas.some((replica) => FAILED_BATCH.test(replica.logs.text()));
        },
        60_000,
        150,
      );
      await publishing;
    } finally {
      await admin.destroy();
    }
    await h.settled(60_000);

    expect(await storedWindows(h, day)).toEqual(expectedWindows(events));
    const storedByReplica = await Promise.all(replicas.map((replica) => metric(replica, STORED)));
    expect(storedByReplica.reduce((sum, n) => sum + n, 0)).toBe(events.length);
    expect(await storedAlerts(h, day)).toEqual(alerts);
    // A lost connection is never mistaken for an event that cannot be stored.
    expect(await h.db.selectFrom('dead_letters').select('stream_seq').execute()).toEqual([]);
    for (const replica of replicas) expect((await fetch(`${replica.service.url}/readyz`)).status).toBe(200);
  }, 180_000);

  it('sets aside an event that makes every attempt to store it throw once other events are stored, and counts the events around it', async () => {
    const keyId = keyIdOf('poison');
    const good = [0, 1, 2, 3].map((n) => usageEvent({ keyId, occurredAt: `2026-06-03T11:0${n}:00.000Z` }));
    // Valid by the schema, yet storing it throws every time, whatever Postgres does: a bug of
    // metering's own, made here by a JSON.stringify that throws on the evidence of its alert.
    const poison = usageEvent({ keyId, outcome: 'unauthorized', reason: 'revoked', userAgent: POISON_AGENT, occurredAt: '2026-06-03T11:30:00.000Z' });
    const stringify = JSON.stringify;
    JSON.stringify = ((value: unknown, ...rest: [never, never]) => {
      // The revoked_key_use evidence (it has windowSeconds), not the event, which a dead letter holds as JSON.
      const evidence = value as { userAgent?: unknown; windowSeconds?: unknown } | null;
      if (evidence?.userAgent === POISON_AGENT && evidence.windowSeconds !== undefined) throw new PoisonError('injected fault');
      return stringify(value, ...rest);
    }) as typeof JSON.stringify;
    try {
      replicas = await startReplicas(h, 1);
      const [replica] = replicas;
      const seq = await h.publishRaw(JSON.stringify(usageBatch([good[0], poison, good[1]])));
      // Alone, it could as well be metering failing every batch (a bad release): it waits, set aside nowhere.
      await waitFor('six failed deliveries', () => replica.logs.lines.filter((line) => line.includes('a usage batch failed while Postgres answers')).length >= 6, 30_000);
      expect(await h.db.selectFrom('dead_letters').select('stream_seq').execute()).toEqual([]);
      expect(await h.db.selectFrom('usage_windows').select('requests').where('key_id', '=', keyId).execute()).toEqual([]);

      await h.publish(good.slice(2));
      await h.settled(90_000);

      const days = await h.db.selectFrom('usage_windows').select(['window_start', 'requests']).where('key_id', '=', keyId).where('granularity', '=', 'day').execute();
      expect(days).toEqual([{ window_start: new Date('2026-06-03T00:00:00.000Z'), requests: 4 }]);
      const setAside = await h.db.selectFrom('dead_letters').select(['stream_seq', 'batch_position', 'raw_payload', 'reason', 'event_type', 'event_version']).execute();
      expect(setAside).toEqual([
        {
          stream_seq: seq,
          batch_position: 1,
          raw_payload: stringify(poison),
          reason: 'could not be stored (PoisonError) on repeated deliveries while the database answered',
          event_type: 'UsageRecorded',
          event_version: 1,
        },
      ]);
      expect(await metric(replica, /metering_dead_letters_total\{kind="unstorable",service="metering"\} (\d+)/)).toBe(1);
      await sql`DELETE FROM metering.dead_letters`.execute(h.db);
    } finally {
      JSON.stringify = stringify;
    }
  }, 150_000);

  it('reports as lag and ack pending what JetStream reports for the durable', async () => {
    replicas = await startReplicas(h, 1);
    const replica = replicas[0];
    const jsm = await jetstreamManager(h.nc);
    // Holding ingest's lock keeps every batch from committing: what was delivered stays unacked
    // (about six batches' worth: the read-ahead and the pull), the rest stays pending.
    const holder = createKysely<unknown>({ url: h.config.databaseUrl, max: 1 });
    try {
      await holder.connection().execute(async (session) => {
        await sql`SELECT pg_advisory_lock(hashtext('metering.ingest'))`.execute(session);
        const keyId = keyIdOf('lag');
        await h.publish(Array.from({ length: 600 }, (_, n) => usageEvent({ keyId, occurredAt: at('2026-06-04T00:00:00.000Z', n * 1000) })));
        await waitFor('the gauges to match the durable', async () => {
          const info = await jsm.consumers.info(h.ns.streams.usageEvents, DURABLE_NAME);
          const pending = await metric(replica, /metering_consumer_pending\{service="metering"\} (\d+)/);
          const ackPending = await metric(replica, /metering_consumer_ack_pending\{service="metering"\} (\d+)/);
          return info.num_pending > 0 && info.num_ack_pending > 0 && pending === info.num_pending && ackPending === info.num_ack_pending;
        });
        await sql`SELECT pg_advisory_unlock(hashtext('metering.ingest'))`.execute(session);
      });
    } finally {
      await holder.destroy();
    }
    await h.settled(60_000);
    expect(await metric(replica, /metering_consumer_pending\{service="metering"\} (\d+)/)).toBe(0);
    expect(await metric(replica, /metering_consumer_ack_pending\{service="metering"\} (\d+)/)).toBe(0);
  }, 120_000);

  it('lifts a max_deliver found on the durable, so a batch Postgres keeps failing is retried until it passes, never dropped', async () => {
    const jsm = await jetstreamManager(h.nc);
    // As an operator (or another tool) might have made it: JetStream gives up on a message after 2 deliveries.
    await jsm.consumers.delete(h.ns.streams.usageEvents, DURABLE_NAME);
    await jsm.consumers.add(h.ns.streams.usageEvents, { durable_name: DURABLE_NAME, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, max_deliver: 2 });
    replicas = await startReplicas(h, 1);
    expect((await jsm.consumers.info(h.ns.streams.usageEvents, DURABLE_NAME)).config.max_deliver).toBe(-1);

    const keyId = keyIdOf('maxdeliver');
    // A missing table fails every batch as a lost database would, while the database answers.
    await sql`ALTER TABLE metering.usage_windows RENAME TO usage_windows_away`.execute(h.db);
    try {
      await h.publish([usageEvent({ keyId, occurredAt: '2026-06-05T08:00:00.000Z' })]);
      await waitFor('the batch to fail on three deliveries', () => replicas[0].logs.lines.filter((line) => line.includes('storing a usage batch failed')).length >= 3, 30_000);
    } finally {
      await sql`ALTER TABLE metering.usage_windows_away RENAME TO usage_windows`.execute(h.db);
    }
    await h.settled(60_000);

    const windows = await h.db.selectFrom('usage_windows').select(['granularity', 'requests']).where('key_id', '=', keyId).orderBy('granularity').execute();
    expect(windows).toEqual([
      { granularity: 'day', requests: 1 },
      { granularity: 'hour', requests: 1 },
    ]);
  }, 120_000);
});
