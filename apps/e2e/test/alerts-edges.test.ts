import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import type { Kysely } from 'kysely';
import { ulid } from 'ulid';
import type { Alert, UsageRecorded } from '@keyplane/contracts';
import { createKysely } from '@keyplane/database';
import { connectNats } from '@keyplane/nats';
import { generateKey } from '@keyplane/key-format';
import { keyIdOf, TEST_NATS_URL, usageEvent, waitFor } from '@keyplane/testing';
import { MeteringHarness } from '../../metering/test/support/metering-harness.js';
import { DURABLE_NAME } from '../../metering/src/ingest/usage-consumer.js';
import { startMeteringService } from '../../metering/src/start.js';
import type { Database } from '../../metering/src/db/schema.js';
import { awayFromHourEnd, hourEndWaitMs, sleep, startStack, type Stack } from './stack.js';

// Alerts, the webhook and reconciliation as an operator relying on them sees them
// (DESIGN §2, §7, §8; apps/metering/README.md "Alerts", "Configuration", "Guarantees").

const at = (iso: string, seconds = 0) => new Date(Date.parse(iso) + seconds * 1000).toISOString();
const ALERT_FIELDS = ['accountId', 'detectedAt', 'evidence', 'id', 'keyId', 'severity', 'summary', 'type'];

// Thresholds set low through env, as the README's configuration table allows.
const LOW_THRESHOLDS = {
  ALERT_SPIKE_MIN_REQUESTS: '20',
  ALERT_SPIKE_FACTOR: '2',
  ALERT_SPIKE_MAD_K: '5',
  ALERT_SPIKE_MIN_HISTORY_HOURS: '3',
  ALERT_AUTH_FAILURE_THRESHOLD: '5',
  ALERT_AUTH_FAILURE_WINDOW_SECONDS: '60',
  ALERT_PERMISSION_PROBE_THRESHOLD: '4',
  ALERT_PERMISSION_PROBE_WINDOW_SECONDS: '120',
  ALERT_NEW_SOURCE_MIN_AGE_MINUTES: '30',
  ALERT_NEW_SOURCE_MIN_REQUESTS: '5',
};

type AlertRow = Awaited<ReturnType<typeof allAlerts>>[number];
async function allAlerts(h: MeteringHarness) {
  return h.db.selectFrom('alerts').selectAll().orderBy('detected_at').orderBy('id').execute();
}

/** One message per event, settled after each: every event is its own batch, in the order given. */
async function oneByOne(h: MeteringHarness, events: UsageRecorded[], suffix = '') {
  for (const event of events) {
    await h.publish([event], (e) => `${e.eventId}${suffix}`);
    await h.settled();
  }
}

/** The same events again on the stream (as a redelivery or a replay by auth would bring them). */
async function redeliver(h: MeteringHarness, events: UsageRecorded[]) {
  await h.publish(events, (e) => `${e.eventId}-again-${ulid()}`);
  await h.settled();
}

async function windowOf(h: MeteringHarness, keyId: string, granularity: 'hour' | 'day', start: string) {
  return h.db
    .selectFrom('usage_windows')
    .select(['requests', 'allowed', 'forbidden', 'rate_limited', 'unauthorized'])
    .where('key_id', '=', keyId)
    .where('granularity', '=', granularity)
    .where('window_start', '=', new Date(start))
    .executeTakeFirst();
}

describe('alert detectors at their thresholds (metering service, synthetic events)', () => {
  let h: MeteringHarness;
  const published: Msg[] = [];
  const ofType = (rows: AlertRow[], type: string) => rows.filter((row) => row.type === type);

  beforeAll(async () => {
    h = await MeteringHarness.create('alerts_edges', LOW_THRESHOLDS);
    h.nc.subscribe(h.ns.subjects.alerts.all, { callback: (_error, msg) => void published.push(msg) });
    await h.nc.flush();
    await h.start();
  });

  afterAll(async () => {
    await h?.close();
  });

  describe('auth_failure_burst (5 401s from one address within 60 s)', () => {
    const ip = '203.0.113.11';
    const other = '203.0.113.12';
    const fail = (clientIp: string, occurredAt: string) => usageEvent({ keyId: null, outcome: 'unauthorized', reason: 'unknown_key', clientIp, occurredAt });
    const burstAlerts = async (clientIp: string) => ofType(await allAlerts(h), 'auth_failure_burst').filter((row) => (row.evidence as { clientIp: string }).clientIp === clientIp);
    const first = [0, 10, 20, 30].map((s) => fail(ip, at('2026-03-01T10:00:00.000Z', s)));
    const interleaved = [5, 15, 25, 35].map((s) => fail(other, at('2026-03-01T10:00:00.000Z', s)));
    const tipping = fail(ip, at('2026-03-01T10:00:40.000Z'));
    const sameHour = [0, 5, 10, 15, 20, 25].map((s) => fail(ip, at('2026-03-01T10:20:00.000Z', s)));
    const nextHour = [0, 10, 20, 30, 40].map((s) => fail(ip, at('2026-03-01T11:05:00.000Z', s)));

    it('stays quiet one below the threshold, and does not count another address’s 401s', async () => {
      await h.publish([...first, ...interleaved].sort((a, b) => (a.occurredAt < b.occurredAt ? -1 : 1)));
      await h.settled();
      expect(await burstAlerts(ip)).toEqual([]);
      expect(await burstAlerts(other)).toEqual([]);
    });

    it('fires once at the 5th, with the documented fields', async () => {
      await oneByOne(h, [tipping]);
      const rows = await burstAlerts(ip);
      expect(rows.map((row) => ({ type: row.type, severity: row.severity, keyId: row.key_id, accountId: row.account_id, detectedAt: row.detected_at.toISOString() }))).toEqual([
        { type: 'auth_failure_burst', severity: 'warning', keyId: null, accountId: null, detectedAt: tipping.occurredAt },
      ]);
      expect(rows[0].summary).toBe(`5 failed authentications from ${ip} within 1 minute`);
      expect(rows[0].evidence).toMatchObject({ clientIp: ip, failures: 5, windowSeconds: 60 });
    });

    it('does not fire again in the same hour, fires again in the next, out of order and redelivered', async () => {
      await h.publish(sameHour);
      await h.settled();
      expect(await burstAlerts(ip)).toHaveLength(1);
      // The next hour's burst arrives newest first, one event per batch.
      await oneByOne(h, [...nextHour].reverse());
      expect((await burstAlerts(ip)).map((row) => row.detected_at.toISOString().slice(0, 13))).toEqual(['2026-03-01T10', '2026-03-01T11']);
      await redeliver(h, [...first, tipping, ...sameHour, ...nextHour]);
      expect(await burstAlerts(ip)).toHaveLength(2);
      expect(await burstAlerts(other)).toEqual([]);
    });
  });

  describe('permission_probe (4 403s on one key within 120 s)', () => {
    const probe = keyIdOf('ae-probe');
    const neighbour = keyIdOf('ae-neighbour');
    const slow = keyIdOf('ae-slow');
    const deny = (keyId: string, occurredAt: string, accountId = 'acc_test') =>
      usageEvent({ keyId, accountId, outcome: 'forbidden', permission: 'KEYS:WRITE', clientIp: '198.51.100.21', occurredAt });
    const probes = async (keyId: string) => ofType(await allAlerts(h), 'permission_probe').filter((row) => row.key_id === keyId);

    it('does not add another key’s (another account’s) 403s, nor 403s spread wider than the window', async () => {
      await h.publish([
        deny(probe, at('2026-03-02T10:00:00.000Z', 0)),
        deny(neighbour, at('2026-03-02T10:00:00.000Z', 10), 'acc_other'),
        deny(probe, at('2026-03-02T10:00:00.000Z', 30)),
        deny(neighbour, at('2026-03-02T10:00:00.000Z', 40), 'acc_other'),
        deny(probe, at('2026-03-02T10:00:00.000Z', 60)),
        deny(neighbour, at('2026-03-02T10:00:00.000Z', 70), 'acc_other'),
        ...[0, 50, 100, 150, 200, 250].map((s) => deny(slow, at('2026-03-02T10:00:00.000Z', s))),
      ]);
      await h.settled();
      expect(await probes(probe)).toEqual([]);
      expect(await probes(neighbour)).toEqual([]);
      expect(await probes(slow)).toEqual([]);
    });

    it('fires once at the 4th, with the key’s account', async () => {
      await oneByOne(h, [deny(probe, at('2026-03-02T10:01:30.000Z'))]);
      const rows = await probes(probe);
      expect(rows.map((row) => ({ severity: row.severity, keyId: row.key_id, accountId: row.account_id, detectedAt: row.detected_at.toISOString(), summary: row.summary }))).toEqual([
        { severity: 'warning', keyId: probe, accountId: 'acc_test', detectedAt: '2026-03-02T10:01:30.000Z', summary: `4 requests of key ${probe} were refused for missing permissions within 2 minutes` },
      ]);
      expect(await probes(neighbour)).toEqual([]);
    });

    it('once per hour: nothing more in the hour, one more in the next even out of order, none on redelivery', async () => {
      const more = [0, 10, 20, 30, 40].map((s) => deny(probe, at('2026-03-02T10:30:00.000Z', s)));
      const next = [0, 10, 20, 30].map((s) => deny(probe, at('2026-03-02T11:30:00.000Z', s)));
      await h.publish(more);
      await h.settled();
      await oneByOne(h, [...next].reverse());
      await redeliver(h, [...more, ...next]);
      expect((await probes(probe)).map((row) => row.detected_at.toISOString().slice(0, 13))).toEqual(['2026-03-02T10', '2026-03-02T11']);
    });
  });

  describe('quota_exhausted (per key and exhausted window)', () => {
    const quota = keyIdOf('ae-quota');
    const calm = keyIdOf('ae-calm');
    const limited = (occurredAt: string, reason: 'hour_limit' | 'day_limit') =>
      usageEvent({ keyId: quota, outcome: 'rate_limited', reason, hourUsed: 50, hourLimit: 50, dayUsed: 200, dayLimit: 200, clientIp: '198.51.100.31', occurredAt });

    it('fires once per hour for hour_limit, once per day for day_limit, never for a key that was not limited', async () => {
      const events = [
        limited('2026-03-03T10:10:00.000Z', 'hour_limit'),
        limited('2026-03-03T10:20:00.000Z', 'hour_limit'),
        limited('2026-03-03T10:59:59.999Z', 'hour_limit'),
        limited('2026-03-03T11:05:00.000Z', 'hour_limit'),
        limited('2026-03-03T12:00:00.000Z', 'day_limit'),
        limited('2026-03-03T15:00:00.000Z', 'day_limit'),
        limited('2026-03-04T00:00:00.000Z', 'day_limit'),
        usageEvent({ keyId: calm, clientIp: '198.51.100.31', occurredAt: '2026-03-03T10:15:00.000Z' }),
      ];
      // Out of order, one batch each, then all again.
      await oneByOne(h, [...events].reverse());
      await redeliver(h, events);
      const rows = ofType(await allAlerts(h), 'quota_exhausted').filter((row) => row.key_id === quota || row.key_id === calm);
      expect(rows.map((row) => [row.key_id, (row.evidence as { window: string }).window, (row.evidence as { windowStart: string }).windowStart, row.severity, row.account_id])).toEqual([
        [quota, 'hour', '2026-03-03T10:00:00.000Z', 'warning', 'acc_test'],
        [quota, 'hour', '2026-03-03T11:00:00.000Z', 'warning', 'acc_test'],
        [quota, 'day', '2026-03-03T00:00:00.000Z', 'warning', 'acc_test'],
        [quota, 'day', '2026-03-04T00:00:00.000Z', 'warning', 'acc_test'],
      ]);
    });
  });

  describe('revoked_key_use (revoked or rotated-out, once per key or address and hour)', () => {
    const revoked = keyIdOf('ae-revoked');
    const expired = keyIdOf('ae-expired');
    const unauthorized = (keyId: string | null, reason: UsageRecorded['reason'], occurredAt: string, clientIp = '192.0.2.41') =>
      usageEvent({ keyId, accountId: keyId === null ? null : 'acc_test', environment: keyId === null ? null : 'live', outcome: 'unauthorized', reason, clientIp, occurredAt });

    it('fires critical once per hour, not for expired or unknown keys', async () => {
      const events = [
        unauthorized(revoked, 'revoked', '2026-03-05T10:15:00.000Z'),
        unauthorized(revoked, 'rotated_out', '2026-03-05T10:20:00.000Z'),
        unauthorized(revoked, 'revoked', '2026-03-05T10:40:00.000Z'),
        unauthorized(revoked, 'revoked', '2026-03-05T11:01:00.000Z'),
        unauthorized(expired, 'expired', '2026-03-05T10:15:00.000Z', '192.0.2.42'),
        unauthorized(expired, 'expired', '2026-03-05T10:16:00.000Z', '192.0.2.42'),
        unauthorized(null, 'unknown_key', '2026-03-05T10:17:00.000Z', '192.0.2.43'),
        unauthorized(null, 'rotated_out', '2026-03-05T10:18:00.000Z', '192.0.2.44'),
        unauthorized(null, 'rotated_out', '2026-03-05T10:19:00.000Z', '192.0.2.44'),
      ];
      await oneByOne(h, [...events].reverse());
      await redeliver(h, events);
      const rows = ofType(await allAlerts(h), 'revoked_key_use').filter((row) => (row.evidence as { clientIp: string }).clientIp.startsWith('192.0.2.4'));
      const seen = rows.map((row) => [row.detected_at.toISOString().slice(0, 13), (row.evidence as { clientIp: string }).clientIp, row.key_id, row.account_id, row.severity]);
      expect(seen.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))).toEqual([
        ['2026-03-05T10', '192.0.2.41', revoked, 'acc_test', 'critical'],
        ['2026-03-05T10', '192.0.2.44', null, null, 'critical'],
        ['2026-03-05T11', '192.0.2.41', revoked, 'acc_test', 'critical'],
      ]);
    });
  });

  describe('new_source (established: first address 30 min old or 5 requests)', () => {
    const byCount = keyIdOf('ae-src-count');
    const byAge = keyIdOf('ae-src-age');
    const late = keyIdOf('ae-src-late');
    const use = (keyId: string, clientIp: string, occurredAt: string, outcome: UsageRecorded['outcome'] = 'allowed', reason?: UsageRecorded['reason']) =>
      usageEvent({ keyId, clientIp, occurredAt, outcome, ...(reason && { reason }), ...(outcome === 'unauthorized' && { hourUsed: null, dayUsed: null, hourLimit: null, dayLimit: null }) });
    const sources = async (keyId: string) =>
      ofType(await allAlerts(h), 'new_source')
        .filter((row) => row.key_id === keyId)
        .map((row) => [(row.evidence as { clientIp: string }).clientIp, row.detected_at.toISOString()]);

    it('lets a young key settle in, then fires once per new address for a valid-key request (403 and 429 included)', async () => {
      await oneByOne(h, [
        use(byCount, '10.1.0.1', '2026-03-06T10:00:00.000Z'),
        use(byCount, '10.1.0.1', '2026-03-06T10:05:00.000Z'),
        use(byCount, '10.1.0.1', '2026-03-06T10:10:00.000Z'),
        use(byCount, '10.1.0.1', '2026-03-06T10:15:00.000Z'),
        // 4 requests, 20 minutes old: not established.
        use(byCount, '10.1.0.2', '2026-03-06T10:20:00.000Z'),
        // Now 5 requests: established.
        use(byCount, '10.1.0.3', '2026-03-06T10:21:00.000Z'),
        use(byCount, '10.1.0.3', '2026-03-06T11:30:00.000Z'),
        use(byCount, '10.1.0.4', '2026-03-06T12:00:00.000Z', 'forbidden', 'missing_permission'),
        // A 401 (an expired key) is no valid-key request: no new_source, and the address stays unseen.
        use(byCount, '10.1.0.5', '2026-03-06T12:05:00.000Z', 'unauthorized', 'expired'),
        use(byCount, '10.1.0.5', '2026-03-06T12:10:00.000Z', 'rate_limited', 'hour_limit'),
      ]);
      expect(await sources(byCount)).toEqual([
        ['10.1.0.3', '2026-03-06T10:21:00.000Z'],
        ['10.1.0.4', '2026-03-06T12:00:00.000Z'],
        ['10.1.0.5', '2026-03-06T12:10:00.000Z'],
      ]);
      const [row] = ofType(await allAlerts(h), 'new_source').filter((alert) => alert.key_id === byCount);
      expect({ severity: row.severity, accountId: row.account_id, summary: row.summary }).toEqual({
        severity: 'warning',
        accountId: 'acc_test',
        summary: `Key ${byCount} was used from 10.1.0.3 for the first time`,
      });
    });

    it('counts a key as established by the age of its first address', async () => {
      await oneByOne(h, [
        use(byAge, '10.2.0.1', '2026-03-06T10:00:00.000Z'),
        use(byAge, '10.2.0.2', '2026-03-06T10:29:00.000Z'),
        use(byAge, '10.2.0.3', '2026-03-06T10:31:00.000Z'),
      ]);
      expect(await sources(byAge)).toEqual([['10.2.0.3', '2026-03-06T10:31:00.000Z']]);
    });

    it('fires once for a new address whose requests arrive out of order and again', async () => {
      const established = [0, 1, 2, 3, 4].map((m) => use(late, '10.3.0.1', at('2026-03-06T10:00:00.000Z', m * 60)));
      await h.publish(established);
      await h.settled();
      const fresh = [use(late, '10.3.0.9', '2026-03-06T11:00:00.000Z'), use(late, '10.3.0.9', '2026-03-06T10:50:00.000Z'), use(late, '10.3.0.9', '2026-03-06T12:10:00.000Z')];
      await oneByOne(h, fresh);
      await redeliver(h, [...established, ...fresh]);
      expect((await sources(late)).map(([ip]) => ip)).toEqual(['10.3.0.9']);
    });
  });

  describe('usage_spike (max(20, 2 × median, median + 5 × MAD), 3 hours of history)', () => {
    const spiky = keyIdOf('ae-spiky');
    const young = keyIdOf('ae-young');
    const loud = keyIdOf('ae-loud');
    const hourOf = (n: number) => new Date(Date.parse('2026-03-07T00:00:00.000Z') + n * 3_600_000).toISOString();
    const inHour = (keyId: string, n: number, count: number, offsetSeconds = 0) =>
      Array.from({ length: count }, (_, i) => usageEvent({ keyId, clientIp: '198.51.100.61', occurredAt: at(hourOf(n), offsetSeconds + i * 30) }));
    const spikes = async (keyId: string) => ofType(await allAlerts(h), 'usage_spike').filter((row) => row.key_id === keyId);
    const hour4 = inHour(spiky, 4, 19);
    const twentieth = inHour(spiky, 4, 1, 19 * 30)[0];

    it('stays quiet one request below the threshold, whatever another key does in that hour', async () => {
      await h.publish([...inHour(spiky, 0, 10), ...inHour(spiky, 1, 10), ...inHour(spiky, 2, 10), ...inHour(spiky, 3, 10)]);
      await h.settled();
      // Another key, busy in the same hour, with no history of its own.
      await h.publish(inHour(loud, 4, 100, 1));
      await h.settled();
      await h.publish(hour4);
      await h.settled();
      expect(await spikes(spiky)).toEqual([]);
      expect(await spikes(loud)).toEqual([]);
    });

    it('fires once at the 20th request, with the key’s baseline as evidence', async () => {
      await oneByOne(h, [twentieth]);
      await h.publish(inHour(spiky, 4, 10, 1500));
      await h.settled();
      const rows = await spikes(spiky);
      expect(rows.map((row) => ({ detectedAt: row.detected_at.toISOString(), severity: row.severity, accountId: row.account_id, evidence: row.evidence }))).toEqual([
        {
          detectedAt: twentieth.occurredAt,
          severity: 'warning',
          accountId: 'acc_test',
          evidence: { hourStart: hourOf(4), requests: 20, threshold: 20, baselineMedian: 10, baselineMad: 0, activeHours: 4 },
        },
      ]);
    });

    it('fires again in the next hour that crosses (out of order, redelivered: once)', async () => {
      const hour5 = inHour(spiky, 5, 25);
      await oneByOne(h, [...hour5].reverse().slice(0, 8));
      await h.publish([...hour5].reverse().slice(8));
      await h.settled();
      await redeliver(h, [...hour4, twentieth, ...hour5]);
      expect((await spikes(spiky)).map((row) => (row.evidence as { hourStart: string }).hourStart)).toEqual([hourOf(4), hourOf(5)]);
    });

    it('never fires for a key with fewer than 3 hours of history', async () => {
      await h.publish([...inHour(young, 0, 10), ...inHour(young, 1, 10), ...inHour(young, 2, 100)]);
      await h.settled();
      expect(await spikes(young)).toEqual([]);
    });
  });

  describe('publication and listing', () => {
    it('publishes each stored alert exactly once on alerts.<type>, with exactly the documented fields', async () => {
      const rows = await allAlerts(h);
      await waitFor('every alert published', async () => (await h.db.selectFrom('alerts').select('id').where('published_at', 'is', null).execute()).length === 0);
      await sleep(300);
      const ids = published.map((msg) => msg.json<Alert>().id);
      expect([...ids].sort()).toEqual(rows.map((row) => row.id).sort());
      for (const msg of published) {
        const alert = msg.json<Alert>();
        expect(Object.keys(alert).sort()).toEqual(ALERT_FIELDS);
        expect(msg.subject).toBe(h.ns.subjects.alerts.ofType(alert.type));
      }
      const jsm = await jetstreamManager(h.nc);
      expect((await jsm.streams.info(h.ns.streams.alerts)).state.messages).toBe(rows.length);
    });

    it('lists the account’s alerts newest first, filtered by keyId, type and since (inclusive)', async () => {
      const list = async (payload: Record<string, unknown>) => {
        const reply = await h.ask<{ data: Alert[]; nextCursor: string | null }>(h.ns.subjects.metering.alerts, { accountId: 'acc_test', limit: 1000, ...payload });
        if (!reply.ok) throw new Error(JSON.stringify(reply));
        return reply.value.data;
      };
      const rows = (await allAlerts(h)).filter((row) => row.account_id === 'acc_test');
      const newestFirst = [...rows].sort((a, b) => b.detected_at.getTime() - a.detected_at.getTime() || (a.id < b.id ? 1 : -1));
      const all = await list({});
      expect(all.map((alert) => alert.id)).toEqual(newestFirst.map((row) => row.id));
      for (const alert of all) expect(Object.keys(alert).sort()).toEqual(ALERT_FIELDS);

      const keyId = keyIdOf('ae-src-count');
      expect((await list({ keyId })).map((alert) => alert.id)).toEqual(newestFirst.filter((row) => row.key_id === keyId).map((row) => row.id));
      expect((await list({ type: 'quota_exhausted' })).map((alert) => alert.id)).toEqual(newestFirst.filter((row) => row.type === 'quota_exhausted').map((row) => row.id));
      const since = '2026-03-06T12:00:00.000Z';
      const after = await list({ since });
      expect(after.map((alert) => alert.id)).toEqual(newestFirst.filter((row) => row.detected_at.getTime() >= Date.parse(since)).map((row) => row.id));
      expect(after.some((alert) => alert.detectedAt === since)).toBe(true);
      // Accountless alerts (bursts of unknown keys) reach no account; acc_other's key raised none.
      expect(all.some((alert) => alert.accountId !== 'acc_test')).toBe(false);
      const other = await h.ask<{ data: Alert[] }>(h.ns.subjects.metering.alerts, { accountId: 'acc_other' });
      expect(other).toEqual({ ok: true, value: { data: [], nextCursor: null } });
    });
  });
});

// ---------------------------------------------------------------------------------------------

interface Hit {
  alertId: string;
  keyId: string | null;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  at: number;
  answered: number | 'hung';
}

type Behaviour = { status: number; delayMs?: number } | 'hang';

/** A webhook receiver; `plan(keyId, attempt)` says how to answer each POST (200 by default). */
async function receiver(plan: (keyId: string | null, attempt: number) => Behaviour = () => ({ status: 200 })) {
  const hits: Hit[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let keyId: string | null = null;
      try {
        keyId = JSON.parse(raw.toString('utf8')).keyId;
      } catch {
        // Not JSON: the assertions will show it.
      }
      const attempt = hits.filter((hit) => hit.keyId === keyId).length + 1;
      const behaviour = plan(keyId, attempt);
      const hit: Hit = { alertId: String(req.headers['x-keyplane-alert-id']), keyId, headers: req.headers, raw, at: Date.now(), answered: behaviour === 'hang' ? 'hung' : behaviour.status };
      hits.push(hit);
      if (behaviour === 'hang') {
        hanging.add(res);
        return;
      }
      setTimeout(() => res.writeHead(behaviour.status).end(), behaviour.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    hits,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keyplane`,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const SECRET = 'whsec_edges_only';

describe('alert webhook (metering service)', () => {
  let h: MeteringHarness;
  let hook: Awaited<ReturnType<typeof receiver>>;
  const behaviours = new Map<string, (attempt: number) => Behaviour>();
  const published: { alert: Alert; at: number }[] = [];
  let hour = 0;
  /** A revoked-key use on a fresh key and hour: one new revoked_key_use alert. */
  const trigger = (name: string, userAgent = 'curl/8.5.0') =>
    usageEvent({ keyId: keyIdOf(name), outcome: 'unauthorized', reason: 'revoked', userAgent, clientIp: '192.0.2.50', occurredAt: new Date(Date.parse('2026-06-01T00:00:00.000Z') + (hour++) * 3_600_000).toISOString(), hourUsed: null, dayUsed: null, hourLimit: null, dayLimit: null });
  const hitsOf = (keyId: string) => hook.hits.filter((hit) => hit.keyId === keyId);
  const deliveryOf = (keyId: string) =>
    h.db
      .selectFrom('alert_deliveries')
      .innerJoin('alerts', 'alerts.id', 'alert_deliveries.alert_id')
      .select(['alert_id', 'attempts', 'delivered_at', 'failed_at', 'last_error'])
      .where('alerts.key_id', '=', keyId)
      .executeTakeFirst();
  const metric = async (result: string) => {
    const text = await (await fetch(`${h.service?.url}/metrics`)).text();
    return Number(new RegExp(`metering_alert_webhook_deliveries_total\\{result="${result}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    hook = await receiver((keyId, attempt) => behaviours.get(keyId ?? '')?.(attempt) ?? { status: 200 });
    h = await MeteringHarness.create('alerts_edges_hook', {
      ALERT_WEBHOOK_URL: hook.url,
      ALERT_WEBHOOK_SECRET: SECRET,
      ALERT_WEBHOOK_BACKOFF_MS: '100',
      ALERT_WEBHOOK_TIMEOUT_MS: '5000',
      ALERT_WEBHOOK_MAX_ATTEMPTS: '3',
      ALERT_DISPATCH_INTERVAL_MS: '50',
    });
    h.nc.subscribe(h.ns.subjects.alerts.all, { callback: (_error, msg) => void published.push({ alert: msg.json<Alert>(), at: Date.now() }) });
    await h.nc.flush();
    await h.start();
  });

  afterAll(async () => {
    await h?.close();
    await hook?.close();
  });

  it('signs the exact bytes sent (non-ASCII evidence included) and names the alert', async () => {
    const event = trigger('wh-sign', 'Mozilla/5.0 (ünïcødé ☃ 🚀) "quoted" \\ back\u2028sep');
    await h.publish([event]);
    const [hit] = await waitFor('the POST', () => (hitsOf(event.keyId!).length > 0 ? hitsOf(event.keyId!) : null));
    expect(hit.headers['x-keyplane-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(hit.raw).digest('hex')}`);
    const alert = JSON.parse(hit.raw.toString('utf8'));
    expect(Object.keys(alert).sort()).toEqual(ALERT_FIELDS);
    expect(hit.headers['x-keyplane-alert-id']).toBe(alert.id);
    expect(alert).toMatchObject({ type: 'revoked_key_use', severity: 'critical', keyId: event.keyId, accountId: 'acc_test', detectedAt: event.occurredAt });
    expect(alert.evidence.userAgent).toBe(event.userAgent);
    await waitFor('delivery recorded', async () => (await deliveryOf(event.keyId!))?.delivered_at);
    expect(await deliveryOf(event.keyId!)).toMatchObject({ attempts: 1, failed_at: null });
  });

  it('does not POST again when the events behind a delivered alert are redelivered', async () => {
    const event = trigger('wh-redeliver');
    await h.publish([event]);
    await waitFor('delivered', async () => (await deliveryOf(event.keyId!))?.delivered_at);
    await redeliver(h, [event, { ...event }]);
    await sleep(500);
    expect(hitsOf(event.keyId!)).toHaveLength(1);
  });

  it('retries a 4xx as any non-2xx (README: "A non-2xx answer or a timeout is retried")', async () => {
    const event = trigger('wh-4xx');
    behaviours.set(event.keyId!, (attempt) => ({ status: attempt === 1 ? 400 : 200 }));
    await h.publish([event]);
    await waitFor('delivered', async () => (await deliveryOf(event.keyId!))?.delivered_at, 10_000);
    const hits = hitsOf(event.keyId!);
    expect(hits.map((hit) => hit.answered)).toEqual([400, 200]);
    expect(hits[1].raw.equals(hits[0].raw)).toBe(true);
    expect(await deliveryOf(event.keyId!)).toMatchObject({ attempts: 2, failed_at: null });
  });

  it('keeps ingesting while the webhook is slow', async () => {
    const slow = trigger('wh-slow-ingest');
    behaviours.set(slow.keyId!, () => ({ status: 200, delayMs: 2500 }));
    await h.publish([slow]);
    await waitFor('the slow POST to start', () => hitsOf(slow.keyId!).length > 0, 5000);
    const started = Date.now();
    const keyId = keyIdOf('wh-busy');
    await h.publish(Array.from({ length: 5 }, () => usageEvent({ keyId, occurredAt: '2026-06-10T10:00:00.000Z' })));
    await waitFor('counted', async () => (await windowOf(h, keyId, 'hour', '2026-06-10T10:00:00.000Z'))?.requests === 5, 5000);
    expect(Date.now() - started).toBeLessThan(1500);
    await waitFor('slow delivered', async () => (await deliveryOf(slow.keyId!))?.delivered_at, 10_000);
  });

  it('publishes a new alert on NATS at once while an earlier alert’s webhook POST is slow ("new alerts go out at once")', async () => {
    const slow = trigger('wh-slow-nats');
    behaviours.set(slow.keyId!, () => ({ status: 200, delayMs: 2500 }));
    await h.publish([slow]);
    await waitFor('the slow POST to start', () => hitsOf(slow.keyId!).length > 0, 5000);
    const next = trigger('wh-after-slow');
    const sent = Date.now();
    await h.publish([next]);
    const seen = await waitFor('the next alert on NATS', () => published.find((entry) => entry.alert.keyId === next.keyId), 10_000);
    await waitFor('slow delivered', async () => (await deliveryOf(slow.keyId!))?.delivered_at, 10_000);
    expect(seen.at - sent).toBeLessThan(1500);
  });

  it('delivers once when metering restarts while a POST is in flight and the receiver answers 200', async () => {
    const event = trigger('wh-restart');
    behaviours.set(event.keyId!, () => ({ status: 200, delayMs: 1500 }));
    await h.publish([event]);
    await waitFor('the POST in flight', () => hitsOf(event.keyId!).length > 0, 5000);
    await h.stop();
    await h.start();
    await sleep(3000);
    await waitFor('delivered', async () => (await deliveryOf(event.keyId!))?.delivered_at, 10_000);
    expect(hitsOf(event.keyId!).map((hit) => hit.answered)).toEqual([200]);
    expect(await deliveryOf(event.keyId!)).toMatchObject({ attempts: 1, failed_at: null });
  });

  it('delivers and publishes each alert once with two metering replicas sharing the work', async () => {
    const second = await startMeteringService(h.config, { logDestination: h.logs });
    try {
      const events = Array.from({ length: 30 }, (_, i) => trigger(`wh-rep-${i}`));
      for (const event of events) behaviours.set(event.keyId!, () => ({ status: 200, delayMs: 50 }));
      await h.publish(events);
      for (const event of events) await waitFor('delivered', async () => (await deliveryOf(event.keyId!))?.delivered_at, 15_000, 50);
      await sleep(500);
      expect(events.filter((event) => hitsOf(event.keyId!).length !== 1).map((event) => [event.keyId, hitsOf(event.keyId!).length])).toEqual([]);
      expect(events.filter((event) => published.filter((entry) => entry.alert.keyId === event.keyId).length !== 1).map((event) => event.keyId)).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('retries a timeout with a doubling backoff up to ALERT_WEBHOOK_MAX_ATTEMPTS, then gives up visibly', async () => {
    await h.stop();
    await h.start({ ALERT_WEBHOOK_TIMEOUT_MS: '1000' });
    const failedBefore = await metric('failed');
    const event = trigger('wh-timeout');
    behaviours.set(event.keyId!, () => 'hang');
    await h.publish([event]);
    const delivery = await waitFor('given up', async () => {
      const row = await deliveryOf(event.keyId!);
      return row?.failed_at ? row : null;
    }, 15_000, 50);
    expect(delivery).toMatchObject({ attempts: 3, delivered_at: null });
    expect(delivery.last_error).toBeTruthy();
    const hits = hitsOf(event.keyId!);
    expect(hits).toHaveLength(3);
    // Timeout (1000 ms) plus the backoff: 100 ms after the first failure, 200 after the second.
    expect(hits[1].at - hits[0].at).toBeGreaterThanOrEqual(1000 + 100 - 20);
    expect(hits[2].at - hits[1].at).toBeGreaterThanOrEqual(1000 + 200 - 20);
    await sleep(800);
    expect(hitsOf(event.keyId!)).toHaveLength(3);
    expect((await metric('failed')) - failedBefore).toBe(1);
    const logged = h.logs.lines.map((line) => JSON.parse(line)).filter((line) => line.alertId === delivery.alert_id && line.givingUp === true);
    expect(logged).toHaveLength(1);
  });

  it('gives up after the last attempt on connection refused, and counts it', async () => {
    const down = await receiver();
    await down.close();
    await h.stop();
    await h.start({ ALERT_WEBHOOK_URL: down.url, ALERT_WEBHOOK_MAX_ATTEMPTS: '2' });
    const event = trigger('wh-refused');
    await h.publish([event]);
    const delivery = await waitFor('given up', async () => {
      const row = await deliveryOf(event.keyId!);
      return row?.failed_at ? row : null;
    }, 10_000, 50);
    expect(delivery).toMatchObject({ attempts: 2, delivered_at: null });
    expect(await metric('failed')).toBe(1);
    expect(await metric('retry')).toBe(1);
    expect(h.logs.lines.map((line) => JSON.parse(line)).filter((line) => line.alertId === delivery.alert_id && line.givingUp === true)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('retention (USAGE_RETENTION_DAYS=1, swept every second)', () => {
  let h: MeteringHarness;
  const DAY = 86_400_000;
  const oldHour = new Date(Math.floor((Date.now() - 3 * DAY) / 3_600_000) * 3_600_000).toISOString();
  const oldDay = new Date(Math.floor(Date.parse(oldHour) / DAY) * DAY).toISOString();
  const keyId = keyIdOf('ret-old');
  const recentKey = keyIdOf('ret-recent');
  const old = [
    usageEvent({ keyId, occurredAt: at(oldHour, 60) }),
    usageEvent({ keyId, occurredAt: at(oldHour, 120) }),
    usageEvent({ keyId, outcome: 'rate_limited', reason: 'hour_limit', occurredAt: at(oldHour, 180) }),
    usageEvent({ keyId, outcome: 'unauthorized', reason: 'revoked', occurredAt: at(oldHour, 240), hourUsed: null, dayUsed: null, hourLimit: null, dayLimit: null }),
  ];
  const recent = [usageEvent({ keyId: recentKey, occurredAt: new Date(Date.now() - 3_600_000).toISOString() })];

  beforeAll(async () => {
    h = await MeteringHarness.create('alerts_edges_retention', { USAGE_RETENTION_DAYS: '1', USAGE_RETENTION_SWEEP_MS: '1000' });
    await h.start();
    await h.publish([...old, ...recent]);
    await h.settled();
  });

  afterAll(async () => {
    await h?.close();
  });

  const expectedOld = { requests: 4, allowed: 2, forbidden: 0, rate_limited: 1, unauthorized: 1 };

  it('deletes old raw events and keeps windows, alerts and recent events', async () => {
    expect(await windowOf(h, keyId, 'hour', oldHour)).toEqual(expectedOld);
    await waitFor('old events swept', async () => (await h.db.selectFrom('usage_events').select('event_id').where('key_id', '=', keyId).execute()).length === 0, 10_000, 100);
    expect(await windowOf(h, keyId, 'hour', oldHour)).toEqual(expectedOld);
    expect(await windowOf(h, keyId, 'day', oldDay)).toEqual(expectedOld);
    const alerts = await h.db.selectFrom('alerts').select('type').where('key_id', '=', keyId).orderBy('type').execute();
    expect(alerts.map((row) => row.type)).toEqual(['quota_exhausted', 'revoked_key_use']);
    expect(await h.db.selectFrom('usage_events').select('event_id').where('key_id', '=', recentKey).execute()).toHaveLength(1);
  });

  it('counts nothing twice when the whole stream is replayed after the sweep (README: a replay "changes nothing")', async () => {
    await h.stop();
    const jsm = await jetstreamManager(h.nc);
    await jsm.consumers.delete(h.ns.streams.usageEvents, DURABLE_NAME);
    await h.start();
    await h.settled();
    expect(await windowOf(h, keyId, 'hour', oldHour)).toEqual(expectedOld);
    expect(await windowOf(h, keyId, 'day', oldDay)).toEqual(expectedOld);
    expect((await h.db.selectFrom('alerts').select('id').where('key_id', '=', keyId).execute()).length).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------

describe('reconciliation through the gateway, with alerts (whole stack)', () => {
  let stack: Stack;
  let db: Kysely<{ 'metering.usage_windows': Database['usage_windows']; 'metering.alerts': Database['alerts'] }>;

  beforeAll(async () => {
    stack = await startStack('e2e_alerts_edges', {
      metering: { ALERT_PERMISSION_PROBE_THRESHOLD: '5', ALERT_AUTH_FAILURE_THRESHOLD: '5', ALERT_AUTH_FAILURE_WINDOW_SECONDS: '600' },
    });
    db = createKysely({ url: stack.databaseUrl, max: 1 });
  }, 60_000);

  afterAll(async () => {
    await db?.destroy();
    await stack?.close();
  });

  it('hour and day windows equal the decisions, per key, across a metering restart and a redelivery; alerts once each', async () => {
    await awayFromHourEnd(90);
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
    const dayStart = Math.floor(hourStart / DAY) * DAY;

    const limited = await stack.createKey({ name: 'limited', permissions: ['FLOWS:READ'], rateLimits: { hour: 8, day: 1000 } });
    const prober = await stack.createKey({ name: 'prober', permissions: ['FLOWS:READ'] });
    const revoked = await stack.createKey({ name: 'revoked', permissions: ['FLOWS:READ'] });
    const rotated = await stack.createKey({ name: 'rotated', permissions: ['FLOWS:READ'] });
    const unknown = Array.from({ length: 6 }, () => generateKey({ environment: 'live' }).key);

    type Tally = { requests: number; allowed: number; forbidden: number; rateLimited: number; unauthorized: number };
    const tallies = new Map<string, Tally>();
    const statuses: Record<string, number[]> = {};
    const send = async (name: string, id: string | null, key: string, method: string, path: string, times: number) => {
      for (let i = 0; i < times; i++) {
        const answer = await stack.call(method, path, { key, body: method === 'POST' ? { name: 'x' } : undefined });
        (statuses[name] ??= []).push(answer.status);
        if (id === null) continue;
        const tally = tallies.get(id) ?? { requests: 0, allowed: 0, forbidden: 0, rateLimited: 0, unauthorized: 0 };
        tallies.set(id, tally);
        tally.requests++;
        const outcome = ({ 200: 'allowed', 201: 'allowed', 404: 'allowed', 403: 'forbidden', 429: 'rateLimited', 401: 'unauthorized' } as const)[answer.status as 200];
        if (!outcome) throw new Error(`${name}: unexpected ${answer.status} ${JSON.stringify(answer.body)}`);
        tally[outcome]++;
      }
    };

    await send('limited', limited.id, limited.key, 'GET', '/v1/flows', 6);
    await send('prober', prober.id, prober.key, 'POST', '/v1/flows', 4);
    await send('prober', prober.id, prober.key, 'GET', '/v1/nope', 3);
    await send('revoked', revoked.id, revoked.key, 'GET', '/v1/flows', 3);
    await send('rotated', rotated.id, rotated.key, 'GET', '/v1/flows', 2);

    // Metering redeployed mid-stream, while more traffic comes.
    const restarting = stack.restartMetering();
    await send('limited', limited.id, limited.key, 'GET', '/v1/flows', 6);
    await send('prober', prober.id, prober.key, 'POST', '/v1/flows', 4);
    expect((await stack.call('POST', `/v1/api-keys/${revoked.id}/revoke`, { body: {} })).status).toBe(200);
    const rotation = await stack.call('POST', `/v1/api-keys/${rotated.id}/rotate`, { body: {} });
    expect(rotation.status).toBe(200);
    await sleep(300);
    await restarting;
    await send('revoked', revoked.id, revoked.key, 'GET', '/v1/flows', 3);
    await send('rotated', rotated.id, rotated.key, 'GET', '/v1/flows', 3);
    await send('rotated', rotated.id, rotation.body.key, 'GET', '/v1/flows', 2);
    for (const key of unknown) await send('unknown', null, key, 'GET', '/v1/flows', 1);
    expect(Math.floor(Date.now() / HOUR) * HOUR).toBe(hourStart);

    expect(statuses).toEqual({
      limited: [...Array(8).fill(200), ...Array(4).fill(429)],
      prober: [...Array(4).fill(403), ...Array(3).fill(404), ...Array(4).fill(403)],
      revoked: [200, 200, 200, 401, 401, 401],
      rotated: [200, 200, 401, 401, 401, 200, 200],
      unknown: Array(6).fill(401),
    });

    const keys = { limited, prober, revoked, rotated };
    const windows = async (granularity: 'hour' | 'day', start: number) =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(keys).map(async ([name, { id }]) => {
            const answer = await stack.call('GET', `/v1/api-keys/${id}/usage?granularity=${granularity}&from=${new Date(start).toISOString()}&to=${new Date(start).toISOString()}`);
            const counts = { ...(answer.body.data?.[0] ?? {}) };
            delete counts.start;
            return [name, counts];
          }),
        ),
      );
    const expected = Object.fromEntries(Object.entries(keys).map(([name, { id }]) => [name, tallies.get(id)]));
    await waitFor('metering to catch up', async () => JSON.stringify(await windows('hour', hourStart)) === JSON.stringify(expected), 20_000, 200).catch(() => undefined);
    expect(await windows('hour', hourStart)).toEqual(expected);
    expect(await windows('day', dayStart)).toEqual(expected);

    // Every usage message on the stream delivered again (as a redelivery or auth re-sending would).
    const nc = await connectNats({ url: TEST_NATS_URL, name: 'alerts-edges-redeliver' });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stack.ns.streams.usageEvents);
      const js = jsm.jetstream();
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const message = await jsm.streams.getMessage(stack.ns.streams.usageEvents, { seq });
        await js.publish(stack.ns.subjects.usageEvents, message!.data, { msgID: `again-${ulid()}` });
      }
      await waitFor(
        'metering to ack the redelivered messages',
        async () => {
          const stream = await jsm.streams.info(stack.ns.streams.usageEvents);
          const consumer = await jsm.consumers.info(stack.ns.streams.usageEvents, DURABLE_NAME);
          return consumer.ack_floor.stream_seq >= stream.state.last_seq && consumer.num_ack_pending === 0 && consumer.num_pending === 0;
        },
        20_000,
        50,
      );
    } finally {
      await nc.close();
    }
    expect(await windows('hour', hourStart)).toEqual(expected);
    expect(await windows('day', dayStart)).toEqual(expected);

    // Alerts: one quota_exhausted, one permission_probe, one revoked_key_use per revoked or
    // rotated-out key, one auth_failure_burst for the gateway's address; in the hour.
    await sleep(300);
    const alerts = await db.selectFrom('metering.alerts').select(['type', 'key_id', 'account_id']).execute();
    const names: Record<string, string> = Object.fromEntries(Object.entries(keys).map(([name, { id }]) => [id, name]));
    expect(alerts.map((row) => [row.type, row.key_id === null ? null : (names[row.key_id] ?? row.key_id), row.account_id]).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))).toEqual([
      ['auth_failure_burst', null, null],
      ['permission_probe', 'prober', 'acc_root'],
      ['quota_exhausted', 'limited', 'acc_root'],
      ['revoked_key_use', 'revoked', 'acc_root'],
      ['revoked_key_use', 'rotated', 'acc_root'],
    ]);

    // Through the gateway: newest first, and the filters.
    const listed = await stack.call('GET', '/v1/alerts?limit=1000');
    expect(listed.status).toBe(200);
    const times = listed.body.data.map((alert: Alert) => alert.detectedAt);
    expect([...times].sort().reverse()).toEqual(times);
    expect(listed.body.data).toHaveLength(4);
    const byKey = await stack.call('GET', `/v1/alerts?keyId=${rotated.id}`);
    expect(byKey.body.data.map((alert: Alert) => [alert.type, alert.keyId])).toEqual([['revoked_key_use', rotated.id]]);
    const byType = await stack.call('GET', '/v1/alerts?type=quota_exhausted');
    expect(byType.body.data.map((alert: Alert) => alert.keyId)).toEqual([limited.id]);
    const latest = listed.body.data[0];
    const since = await stack.call('GET', `/v1/alerts?since=${encodeURIComponent(latest.detectedAt)}`);
    expect(since.body.data.map((alert: Alert) => alert.id)).toContain(latest.id);
    expect(since.body.data.every((alert: Alert) => alert.detectedAt >= latest.detectedAt)).toBe(true);
  }, 120_000 + hourEndWaitMs(90));
});
