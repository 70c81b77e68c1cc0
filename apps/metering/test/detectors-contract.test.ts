import { jetstreamManager } from '@nats-io/jetstream';
import { sql } from 'kysely';
import type { Msg } from '@nats-io/transport-node';
import { Alert, type UsageRecorded } from '@keyplane/contracts';
import { keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { loadMeteringConfig } from '../src/config.js';
import { DURABLE_NAME } from '../src/ingest/usage-consumer.js';
import { MeteringHarness } from './support/metering-harness.js';

// The detectors and their alerts as an operator relying on them sees them (apps/metering/README.md
// "Alerts", docs/api.md "Usage, events, audit, alerts").

const at = (iso: string, seconds = 0) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

async function allPublished(h: MeteringHarness) {
  await waitFor('every alert published', async () => (await h.db.selectFrom('alerts').select('id').where('published_at', 'is', null).execute()).length === 0, 15000);
}

describe('alert ids: the same anomaly keeps its id (README: "a replay raises the same alerts")', () => {
  let h: MeteringHarness;

  beforeAll(async () => {
    h = await MeteringHarness.create('detectors_ids', { ALERT_AUTH_FAILURE_THRESHOLD: '3', ALERT_PERMISSION_PROBE_THRESHOLD: '3' });
    await h.start();
  });

  afterAll(async () => {
    await h?.close();
  });

  const probe = keyIdOf('dc-probe');
  const revoked = keyIdOf('dc-revoked');
  const quota = keyIdOf('dc-quota');
  const events: UsageRecorded[] = [
    ...[0, 5, 10].map((s) => usageEvent({ keyId: null, outcome: 'unauthorized', reason: 'unknown_key', clientIp: '203.0.113.7', occurredAt: at('2026-06-01T10:00:00.000Z', s) })),
    ...[0, 5, 10].map((s) => usageEvent({ keyId: probe, outcome: 'forbidden', permission: 'KEYS:WRITE', clientIp: '198.51.100.7', occurredAt: at('2026-06-01T10:10:00.000Z', s) })),
    usageEvent({ keyId: revoked, outcome: 'unauthorized', reason: 'revoked', clientIp: '192.0.2.7', occurredAt: '2026-06-01T10:20:00.000Z' }),
    usageEvent({ keyId: quota, outcome: 'rate_limited', reason: 'hour_limit', hourUsed: 10, hourLimit: 10, clientIp: '198.51.100.8', occurredAt: '2026-06-01T10:30:00.000Z' }),
  ];
  const stored = () => h.db.selectFrom('alerts').select(['dedup_key', 'id']).orderBy('dedup_key').execute();

  it('raises them again under the same ids when metering rebuilds its database from the stream, and the ALERTS stream keeps one copy', async () => {
    await h.publish(events);
    await h.settled();
    await allPublished(h);
    const before = await stored();
    expect(before.map((row) => row.dedup_key.split('|')[0])).toEqual(['auth_failure_burst', 'permission_probe', 'quota_exhausted', 'revoked_key_use']);

    // Metering's database is lost and rebuilt from the usage stream, still within a day.
    await h.stop();
    await sql`DROP SCHEMA metering CASCADE`.execute(h.db);
    const jsm = await jetstreamManager(h.nc);
    await jsm.consumers.delete(h.ns.streams.usageEvents, DURABLE_NAME);
    await h.start();
    await h.settled();
    await allPublished(h);

    expect(await stored()).toEqual(before);
    // Republished under the same msgID inside the stream's duplicate window: dropped, so a subscriber gets each alert once.
    expect((await jsm.streams.info(h.ns.streams.alerts)).state.messages).toBe(before.length);
  });
});

describe('new_source: a key used from many new addresses (README: at most ALERT_NEW_SOURCE_MAX_PER_HOUR per key and hour)', () => {
  let h: MeteringHarness;
  const published: string[] = [];
  const keyId = keyIdOf('dc-pool');

  beforeAll(async () => {
    h = await MeteringHarness.create('detectors_pool', { ALERT_NEW_SOURCE_MIN_REQUESTS: '5' });
    h.nc.subscribe(h.ns.subjects.alerts.all, { callback: (_error, msg) => void published.push(msg.subject) });
    await h.nc.flush();
    await h.start();
  });

  afterAll(async () => {
    await h?.close();
  });

  const use = (clientIp: string, occurredAt: string) => usageEvent({ keyId, clientIp, occurredAt });

  it('raises 5 an hour, the 5th saying so, learns the rest silently, and alerts again the next hour', async () => {
    // Established from one address, then 30 new addresses in an hour (a leaked key, or a pool of serverless addresses).
    await h.publish([0, 1, 2, 3, 4].map((m) => use('10.9.0.1', at('2026-06-02T09:00:00.000Z', m * 60))));
    await h.settled();
    const pool = Array.from({ length: 30 }, (_, i) => use(`10.9.1.${i + 1}`, at('2026-06-02T10:00:00.000Z', i * 60)));
    for (const event of pool.slice(0, 3)) {
      await h.publish([event]);
      await h.settled();
    }
    await h.publish(pool.slice(3));
    await h.settled();
    // The next hour: an address of the pool again (known now), and one never seen.
    await h.publish([use('10.9.1.20', '2026-06-02T11:00:00.000Z'), use('10.9.2.1', '2026-06-02T11:05:00.000Z')]);
    await h.settled();

    const rows = await h.db.selectFrom('alerts').select(['detected_at', 'summary', 'evidence']).where('type', '=', 'new_source').orderBy('detected_at').execute();
    expect(rows.map((row) => [row.detected_at.toISOString(), (row.evidence as { clientIp: string }).clientIp, (row.evidence as { lastAlertThisHour: boolean }).lastAlertThisHour])).toEqual([
      ['2026-06-02T10:00:00.000Z', '10.9.1.1', false],
      ['2026-06-02T10:01:00.000Z', '10.9.1.2', false],
      ['2026-06-02T10:02:00.000Z', '10.9.1.3', false],
      ['2026-06-02T10:03:00.000Z', '10.9.1.4', false],
      ['2026-06-02T10:04:00.000Z', '10.9.1.5', true],
      ['2026-06-02T11:05:00.000Z', '10.9.2.1', false],
    ]);
    expect(rows[4].summary).toBe(`Key ${keyId} was used from 10.9.1.5 for the first time; further new addresses of this key raise no alert until the next hour`);
    await allPublished(h);
    await waitFor('the alerts on NATS', () => published.length >= 6);
    expect(published).toHaveLength(6);
  });
});

describe('alert bodies (docs/api.md "Usage, events, audit, alerts")', () => {
  let h: MeteringHarness;
  const published: Msg[] = [];
  const hourOf = (n: number) => new Date(Date.parse('2026-06-03T00:00:00.000Z') + n * 3_600_000).toISOString();
  const spread = (keyId: string, from: string, count: number, stepSeconds: number, clientIp = '198.51.100.30') =>
    Array.from({ length: count }, (_, i) => usageEvent({ keyId, clientIp, occurredAt: at(from, i * stepSeconds) }));
  const keys = { spike: keyIdOf('dc-b-spike'), straddle: keyIdOf('dc-b-straddle'), brandNew: keyIdOf('dc-b-new'), other: keyIdOf('dc-b-other') };
  const EVIDENCE: Record<string, string[]> = {
    usage_spike: ['activeHours', 'baselineMad', 'baselineMedian', 'hourStart', 'requests', 'threshold'],
    auth_failure_burst: ['clientIp', 'failures', 'firstAt', 'lastAt', 'windowSeconds'],
    permission_probe: ['clientIps', 'firstAt', 'forbidden', 'lastAt', 'permissions', 'windowSeconds'],
    quota_exhausted: ['eventId', 'limit', 'used', 'window', 'windowStart'],
    revoked_key_use: ['clientIp', 'eventId', 'method', 'path', 'reason', 'userAgent', 'windowSeconds'],
    new_source: ['clientIp', 'eventId', 'keyFirstSeenAt', 'knownSources', 'lastAlertThisHour', 'userAgent'],
  };

  beforeAll(async () => {
    h = await MeteringHarness.create('detectors_bodies', {
      ALERT_SPIKE_MIN_REQUESTS: '20',
      ALERT_SPIKE_FACTOR: '2',
      ALERT_SPIKE_MIN_HISTORY_HOURS: '3',
      ALERT_AUTH_FAILURE_THRESHOLD: '3',
      ALERT_PERMISSION_PROBE_THRESHOLD: '3',
      ALERT_NEW_SOURCE_MIN_REQUESTS: '5',
    });
    h.nc.subscribe(h.ns.subjects.alerts.all, { callback: (_error, msg) => void published.push(msg) });
    await h.nc.flush();
    await h.start();
    const history = (keyId: string) => [0, 1, 2].flatMap((n) => spread(keyId, hourOf(n), 10, 300));
    await h.publish([...history(keys.spike), ...history(keys.straddle)]);
    await h.settled();
    await h.publish([
      // usage_spike: 25 in hour 3 against 10 an hour; new_source: the same key from a second address.
      ...spread(keys.spike, hourOf(3), 25, 60),
      usageEvent({ keyId: keys.spike, clientIp: '192.0.2.30', occurredAt: at(hourOf(3), 1800) }),
      // 30 requests in half an hour, but 15 on each side of 04:00: no hour reaches 20.
      ...spread(keys.straddle, at(hourOf(3), 45 * 60), 15, 60),
      ...spread(keys.straddle, hourOf(4), 15, 60),
      // A brand-new key's first hour: 200 requests and no baseline, so no usage_spike.
      ...spread(keys.brandNew, hourOf(3), 200, 10),
      ...[0, 5, 10].map((s) => usageEvent({ keyId: null, outcome: 'unauthorized', reason: 'unknown_key', clientIp: '203.0.113.30', occurredAt: at(hourOf(3), s) })),
      ...[0, 5, 10].map((s) => usageEvent({ keyId: keys.other, accountId: 'acc_other', outcome: 'forbidden', permission: 'KEYS:WRITE', occurredAt: at(hourOf(3), 600 + s) })),
      usageEvent({ keyId: keys.spike, outcome: 'unauthorized', reason: 'rotated_out', clientIp: '192.0.2.31', occurredAt: at(hourOf(3), 1200) }),
      usageEvent({ keyId: keys.spike, outcome: 'rate_limited', reason: 'day_limit', dayUsed: 500, dayLimit: 500, clientIp: '198.51.100.30', occurredAt: at(hourOf(3), 1300) }),
    ]);
    await h.settled();
    await allPublished(h);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('raises each type once, none for a spike split across an hour boundary or a brand-new key’s first hour', async () => {
    const rows = await h.db.selectFrom('alerts').select(['type', 'key_id']).orderBy('type').execute();
    expect(rows.map((row) => [row.type, row.key_id])).toEqual([
      ['auth_failure_burst', null],
      ['new_source', keys.spike],
      ['permission_probe', keys.other],
      ['quota_exhausted', keys.spike],
      ['revoked_key_use', keys.spike],
      ['usage_spike', keys.spike],
    ]);
  });

  it('publishes each as a valid contracts Alert on alerts.<type>, with ISO 8601 UTC times and the documented evidence', async () => {
    await waitFor('six alerts on NATS', () => published.length >= 6);
    for (const msg of published) {
      const alert = Alert.parse(msg.json());
      expect(msg.subject).toBe(h.ns.subjects.alerts.ofType(alert.type));
      expect(alert.id).toMatch(/^alrt_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(alert.detectedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect([alert.type, Object.keys(alert.evidence).sort()]).toEqual([alert.type, EVIDENCE[alert.type]]);
      expect(alert.severity).toBe(alert.type === 'revoked_key_use' ? 'critical' : 'warning');
    }
  });

  it('lists to each account only its own alerts', async () => {
    const list = async (accountId: string) => {
      const reply = await h.ask<{ data: Alert[] }>(h.ns.subjects.metering.alerts, { accountId });
      if (!reply.ok) throw new Error(JSON.stringify(reply));
      return reply.value.data.map((alert) => [alert.type, alert.keyId]).sort();
    };
    expect(await list('acc_test')).toEqual([
      ['new_source', keys.spike],
      ['quota_exhausted', keys.spike],
      ['revoked_key_use', keys.spike],
      ['usage_spike', keys.spike],
    ]);
    expect(await list('acc_other')).toEqual([['permission_probe', keys.other]]);
  });
});

describe('an alert tipped by an event stamped in the future (an auth replica whose clock ran ahead)', () => {
  let h: MeteringHarness;

  beforeAll(async () => {
    h = await MeteringHarness.create('detectors_future');
    await h.start();
  });

  afterAll(async () => {
    await h?.close();
  });

  it('is detected no later than metering stored it, so it does not sit atop the newest-first list for an hour', async () => {
    const keyId = keyIdOf('dc-future');
    const before = Date.now();
    const future = new Date(before + 3_600_000).toISOString();
    await h.publish([usageEvent({ keyId, outcome: 'unauthorized', reason: 'revoked', clientIp: '192.0.2.40', occurredAt: future })]);
    await h.settled();
    const reply = await h.ask<{ data: Alert[] }>(h.ns.subjects.metering.alerts, { accountId: 'acc_test' });
    if (!reply.ok) throw new Error(JSON.stringify(reply));
    expect(reply.value.data.map((alert) => alert.type)).toEqual(['revoked_key_use']);
    const detectedAt = Date.parse(reply.value.data[0]!.detectedAt);
    expect(detectedAt).toBeGreaterThanOrEqual(before);
    expect(detectedAt).toBeLessThanOrEqual(Date.now());
  });
});

describe('alert thresholds (README "Configuration": a bad value stops start-up naming the variable)', () => {
  it('refuses an ALERT_SPIKE_FACTOR of 1 or less, which would make a steady key’s ordinary hour a spike', () => {
    for (const value of ['1', '0.5', '1.0']) {
      expect(() => loadMeteringConfig({ ALERT_SPIKE_FACTOR: value })).toThrow(`ALERT_SPIKE_FACTOR must be more than 1 (times the key's median hour), got "${value}"`);
    }
    expect(loadMeteringConfig({ ALERT_SPIKE_FACTOR: '1.5' }).thresholds.spikeFactor).toBe(1.5);
  });

  it('reads ALERT_NEW_SOURCE_MAX_PER_HOUR, and refuses 0', () => {
    expect(loadMeteringConfig({ ALERT_NEW_SOURCE_MAX_PER_HOUR: '2' }).thresholds.newSourceMaxPerHour).toBe(2);
    expect(() => loadMeteringConfig({ ALERT_NEW_SOURCE_MAX_PER_HOUR: '0' })).toThrow('ALERT_NEW_SOURCE_MAX_PER_HOUR must be an integer between 1 and 10000, got "0"');
  });
});
