import type { Msg } from '@nats-io/transport-node';
import type { Alert, UsageRecorded } from '@keyplane/contracts';
import { eventsInHour, keyIdOf, usageEvent, waitFor } from '@keyplane/testing';
import { MeteringHarness } from './support/metering-harness.js';

const HOUR = 3_600_000;
const day0 = Date.parse('2026-04-01T00:00:00.000Z');
const hour = (n: number) => new Date(day0 + n * HOUR).toISOString();
const at = (hourIndex: number, minute: number, second = 0) => new Date(day0 + hourIndex * HOUR + minute * 60_000 + second * 1000).toISOString();
// The anomalies all happen in hour 24, after a day of history.
const ANOMALY_HOUR = 24;

const keys = {
  spike: keyIdOf('spike'),
  quietA: keyIdOf('quiet-a'),
  quietB: keyIdOf('quiet-b'),
  probe: keyIdOf('probe'),
  quota: keyIdOf('quota'),
  revoked: keyIdOf('revoked'),
  source: keyIdOf('source'),
  fresh: keyIdOf('fresh'),
};

/** A day of steady traffic on several keys, then one anomaly of each kind, each repeated so a flood would show. */
function replay(): UsageRecorded[] {
  const events: UsageRecorded[] = [];
  for (let h = 0; h <= ANOMALY_HOUR; h += 1) {
    events.push(...eventsInHour(hour(h), 30, { keyId: keys.quietA, clientIp: '198.51.100.1' }));
    events.push(...eventsInHour(hour(h), 10, { keyId: keys.quietB, clientIp: '198.51.100.2' }));
    if (h < ANOMALY_HOUR) events.push(...eventsInHour(hour(h), 10, { keyId: keys.spike, clientIp: '198.51.100.3' }));
  }
  // usage_spike: ten an hour for a day, then a hundred.
  events.push(...eventsInHour(hour(ANOMALY_HOUR), 100, { keyId: keys.spike, clientIp: '198.51.100.3' }));
  // A few 403s on a quiet key now and then are no probe.
  for (const minute of [5, 25, 45]) events.push(usageEvent({ keyId: keys.quietB, clientIp: '198.51.100.2', outcome: 'forbidden', occurredAt: at(ANOMALY_HOUR, minute) }));

  // auth_failure_burst: 25 unknown-key 401s in 30 s, and again 20 minutes later (same hour: no second alert).
  for (const start of [10, 30]) {
    for (let i = 0; i < 25; i += 1) {
      events.push(usageEvent({ keyId: null, outcome: 'unauthorized', reason: 'unknown_key', clientIp: '203.0.113.66', occurredAt: at(ANOMALY_HOUR, start, i) }));
    }
  }
  // A slow trickle of 401s (6 a minute for 5 minutes) from elsewhere is no burst.
  for (let i = 0; i < 30; i += 1) {
    events.push(usageEvent({ keyId: null, outcome: 'unauthorized', reason: 'unknown_key', clientIp: '203.0.113.77', occurredAt: new Date(Date.parse(at(ANOMALY_HOUR, 0)) + i * 10_000).toISOString() }));
  }

  // permission_probe: 12 403s within 5 minutes, twice.
  events.push(usageEvent({ keyId: keys.probe, clientIp: '198.51.100.4', occurredAt: at(ANOMALY_HOUR, 0) }));
  for (const start of [20, 40]) {
    for (let i = 0; i < 12; i += 1) {
      events.push(usageEvent({ keyId: keys.probe, clientIp: '198.51.100.4', outcome: 'forbidden', permission: `KEYS:WRITE`, occurredAt: at(ANOMALY_HOUR, start, i * 25) }));
    }
  }

  // quota_exhausted: five 429s in the hour.
  for (let i = 0; i < 5; i += 1) {
    events.push(usageEvent({ keyId: keys.quota, clientIp: '198.51.100.5', outcome: 'rate_limited', reason: 'hour_limit', hourUsed: 1000, hourLimit: 1000, occurredAt: at(ANOMALY_HOUR, 50, i) }));
  }

  // revoked_key_use: a revoked secret presented three times.
  for (const minute of [15, 16, 17]) {
    events.push(usageEvent({ keyId: keys.revoked, outcome: 'unauthorized', reason: 'revoked', clientIp: '192.0.2.10', occurredAt: at(ANOMALY_HOUR, minute) }));
  }

  // new_source: a key used from one address for two hours, then from a new one, twice.
  events.push(...eventsInHour(hour(ANOMALY_HOUR - 2), 5, { keyId: keys.source, clientIp: '198.51.100.6' }));
  events.push(...eventsInHour(hour(ANOMALY_HOUR - 1), 5, { keyId: keys.source, clientIp: '198.51.100.6' }));
  events.push(usageEvent({ keyId: keys.source, clientIp: '192.0.2.200', occurredAt: at(ANOMALY_HOUR, 30) }));
  events.push(usageEvent({ keyId: keys.source, clientIp: '192.0.2.200', occurredAt: at(ANOMALY_HOUR, 31) }));
  // A brand-new key trying three addresses in its first minutes is no new_source.
  for (const [minute, ip] of [[0, '10.0.0.1'], [3, '10.0.0.2'], [9, '10.0.0.3']] as const) {
    events.push(usageEvent({ keyId: keys.fresh, clientIp: ip, occurredAt: at(ANOMALY_HOUR, minute) }));
  }

  return events.sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : a.occurredAt > b.occurredAt ? 1 : 0));
}

describe('metering alerts', () => {
  let h: MeteringHarness;
  const published: Msg[] = [];

  beforeAll(async () => {
    h = await MeteringHarness.create('alerts', { ALERT_SPIKE_MIN_REQUESTS: '50' });
    h.nc.subscribe(h.ns.subjects.alerts.all, { callback: (_error, msg) => void published.push(msg) });
    await h.nc.flush();
    await h.start();
    await h.publish(replay());
    await h.settled(30000);
  });

  afterAll(async () => {
    await h.close();
  });

  const anomalyHour = hour(ANOMALY_HOUR);

  it('raises exactly one alert per anomaly, and none for steady traffic', async () => {
    const rows = await h.db.selectFrom('alerts').selectAll().orderBy('type').execute();
    expect(rows.map((row) => ({ type: row.type, severity: row.severity, keyId: row.key_id, accountId: row.account_id, detectedAt: row.detected_at.toISOString(), summary: row.summary }))).toEqual([
      {
        type: 'auth_failure_burst',
        severity: 'warning',
        keyId: null,
        accountId: null,
        detectedAt: at(ANOMALY_HOUR, 10, 19),
        summary: '20 failed authentications from 203.0.113.66 within 1 minute',
      },
      {
        type: 'new_source',
        severity: 'warning',
        keyId: keys.source,
        accountId: 'acc_test',
        detectedAt: at(ANOMALY_HOUR, 30),
        summary: `Key ${keys.source} was used from 192.0.2.200 for the first time`,
      },
      {
        type: 'permission_probe',
        severity: 'warning',
        keyId: keys.probe,
        accountId: 'acc_test',
        detectedAt: at(ANOMALY_HOUR, 20, 9 * 25),
        summary: `10 requests of key ${keys.probe} were refused for missing permissions within 10 minutes`,
      },
      {
        type: 'quota_exhausted',
        severity: 'warning',
        keyId: keys.quota,
        accountId: 'acc_test',
        detectedAt: at(ANOMALY_HOUR, 50, 0),
        summary: `Key ${keys.quota} reached its hourly limit of 1000 requests`,
      },
      {
        type: 'revoked_key_use',
        severity: 'critical',
        keyId: keys.revoked,
        accountId: 'acc_test',
        detectedAt: at(ANOMALY_HOUR, 15),
        summary: `A revoked key of ${keys.revoked} was used from 192.0.2.10`,
      },
      {
        type: 'usage_spike',
        severity: 'warning',
        keyId: keys.spike,
        accountId: 'acc_test',
        // The 50th request of the hour (100 spread over 60 minutes: one every 36 s).
        detectedAt: new Date(Date.parse(anomalyHour) + 49 * 36_000).toISOString(),
        summary: `Key ${keys.spike} reached 50 requests in the hour from ${anomalyHour}, against a usual 10 per hour`,
      },
    ]);
    expect(rows.find((row) => row.type === 'usage_spike')?.evidence).toEqual({
      hourStart: anomalyHour,
      requests: 50,
      threshold: 50,
      baselineMedian: 10,
      baselineMad: 0,
      activeHours: 24,
    });
    expect(rows.find((row) => row.type === 'auth_failure_burst')?.evidence).toEqual({
      clientIp: '203.0.113.66',
      failures: 20,
      windowSeconds: 60,
      firstAt: at(ANOMALY_HOUR, 10, 0),
      lastAt: at(ANOMALY_HOUR, 10, 19),
    });
  });

  it('publishes each stored alert once on alerts.<type>', async () => {
    await waitFor('six alerts on NATS', () => published.length >= 6);
    const rows = await h.db.selectFrom('alerts').selectAll().execute();
    const alerts = published.map((msg) => [msg.subject, msg.json<Alert>()] as const).sort(([a], [b]) => (a < b ? -1 : 1));
    expect(alerts.map(([subject, alert]) => [subject, alert.type])).toEqual(
      ['auth_failure_burst', 'new_source', 'permission_probe', 'quota_exhausted', 'revoked_key_use', 'usage_spike'].map((type) => [h.ns.subjects.alerts.ofType(type), type]),
    );
    for (const [, alert] of alerts) {
      const row = rows.find((stored) => stored.id === alert.id);
      expect(alert).toEqual({
        id: row?.id,
        type: row?.type,
        severity: row?.severity,
        keyId: row?.key_id,
        accountId: row?.account_id,
        detectedAt: row?.detected_at.toISOString(),
        summary: row?.summary,
        evidence: row?.evidence,
      });
      expect(alert.id).toMatch(/^alrt_[0-9A-HJKMNP-TV-Z]{26}$/);
    }
    // The dispatcher marks them after the broker took them, in its transaction's commit.
    await waitFor('every alert marked published', async () => {
      const unpublished = await h.db.selectFrom('alerts').select('id').where('published_at', 'is', null).execute();
      return unpublished.length === 0;
    });
  });

  it('raises nothing new when the anomalies go on within their windows', async () => {
    await h.publish(replay().filter((event) => event.occurredAt >= anomalyHour));
    await h.settled(30000);
    const count = await h.db.selectFrom('alerts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(6);
    // A few dispatcher passes (every 50 ms here) publish nothing more.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(published).toHaveLength(6);
  });
});
