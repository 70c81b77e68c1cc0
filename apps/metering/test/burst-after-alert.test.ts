import type { UsageRecorded } from '@keyplane/contracts';
import { MeteringHarness } from './support/metering-harness.js';
import { keyIdOf, usageEvent } from '@keyplane/testing';

const at = (iso: string, seconds = 0) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

/**
 * The burst detectors skip reading the stored events of an address or key whose alert for the
 * hour is already raised. A late event in that hour can still close a window ending in the next
 * hour, whose alert is not raised yet: it must be found.
 */
describe('metering burst detectors after an alert', () => {
  let h: MeteringHarness;

  beforeAll(async () => {
    h = await MeteringHarness.create('burst_after_alert');
    await h.start();
  });

  afterAll(async () => {
    await h.close();
  });

  const alertsOf = (type: string) =>
    h.db.selectFrom('alerts').select(['detected_at', 'summary', 'evidence']).where('type', '=', type).orderBy('detected_at').execute();

  async function inOrder(...batches: UsageRecorded[][]) {
    for (const batch of batches) {
      await h.publish(batch);
      await h.settled();
    }
  }

  it('raises the next hour’s auth_failure_burst that a late 401 completes', async () => {
    const failure = (occurredAt: string) => usageEvent({ keyId: null, outcome: 'unauthorized', reason: 'unknown_key', clientIp: '203.0.113.90', occurredAt });
    await inOrder(
      Array.from({ length: 25 }, (_, i) => failure(at('2026-05-01T10:10:00.000Z', i))),
      // 19 in the first half minute of 11:00: one short of a burst.
      Array.from({ length: 19 }, (_, i) => failure(at('2026-05-01T11:00:00.000Z', i + 10))),
      [failure('2026-05-01T10:59:59.500Z')],
    );

    const alerts = await alertsOf('auth_failure_burst');
    expect(alerts.map(({ detected_at, summary, evidence }) => [detected_at.toISOString(), summary, evidence])).toEqual([
      [
        '2026-05-01T10:10:19.000Z',
        '20 failed authentications from 203.0.113.90 within 1 minute',
        { clientIp: '203.0.113.90', failures: 20, windowSeconds: 60, firstAt: '2026-05-01T10:10:00.000Z', lastAt: '2026-05-01T10:10:19.000Z' },
      ],
      [
        '2026-05-01T11:00:28.000Z',
        '20 failed authentications from 203.0.113.90 within 1 minute',
        { clientIp: '203.0.113.90', failures: 20, windowSeconds: 60, firstAt: '2026-05-01T10:59:59.500Z', lastAt: '2026-05-01T11:00:28.000Z' },
      ],
    ]);
  });

  it('raises the next hour’s permission_probe that a late 403 completes', async () => {
    const keyId = keyIdOf('probe-late');
    const denial = (occurredAt: string) => usageEvent({ keyId, outcome: 'forbidden', permission: 'KEYS:WRITE', clientIp: '198.51.100.90', occurredAt });
    await inOrder(
      Array.from({ length: 12 }, (_, i) => denial(at('2026-05-02T10:20:00.000Z', i * 10))),
      Array.from({ length: 9 }, (_, i) => denial(at('2026-05-02T11:00:00.000Z', i * 10))),
      [denial('2026-05-02T10:59:00.000Z')],
    );

    const alerts = await alertsOf('permission_probe');
    expect(alerts.map(({ detected_at, summary }) => [detected_at.toISOString(), summary])).toEqual([
      ['2026-05-02T10:21:30.000Z', `10 requests of key ${keyId} were refused for missing permissions within 10 minutes`],
      ['2026-05-02T11:01:20.000Z', `10 requests of key ${keyId} were refused for missing permissions within 10 minutes`],
    ]);
    expect(alerts[1].evidence).toEqual({
      forbidden: 10,
      windowSeconds: 600,
      firstAt: '2026-05-02T10:59:00.000Z',
      lastAt: '2026-05-02T11:01:20.000Z',
      permissions: ['KEYS:WRITE'],
      clientIps: ['198.51.100.90'],
    });
  });
});
