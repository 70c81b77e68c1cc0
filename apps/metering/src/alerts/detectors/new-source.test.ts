import type { UsageRecorded } from '@keyplane/contracts';
import { DEFAULT_THRESHOLDS } from '../thresholds.js';
import { detectNewSources, type KeySources } from './new-source.js';

const t = { ...DEFAULT_THRESHOLDS, newSourceMinAgeMinutes: 60, newSourceMinRequests: 100 };
let n = 0;
const use = (keyId: string, clientIp: string, occurredAt: string, outcome: UsageRecorded['outcome'] = 'allowed'): UsageRecorded => ({
  type: 'UsageRecorded',
  version: 1,
  eventId: `evt_${(n += 1)}`,
  occurredAt,
  keyId,
  accountId: 'acc_a',
  environment: 'live',
  outcome,
  reason: outcome === 'allowed' ? 'ok' : 'revoked',
  permission: null,
  method: 'GET',
  path: '/v1/flows',
  clientIp,
  userAgent: 'ua',
  requestId: 'req',
  hourUsed: null,
  dayUsed: null,
  hourLimit: null,
  dayLimit: null,
});
const state = (sources: Map<string, KeySources>, alertsPerHour = new Map<string, number>()) => ({ sources, alertsPerHour });
const known = (firstSeenAt: string, requests: number, ips: string[]): KeySources => ({ firstSeenAt: Date.parse(firstSeenAt), requests, sourceCount: ips.length, known: new Set(ips) });

describe('detectNewSources', () => {
  it('alerts when an established key shows up from an address it never used', () => {
    const { candidates, uses } = detectNewSources(
      [use('key_a', '10.0.0.1', '2026-04-01T12:00:00.000Z'), use('key_a', '10.0.0.9', '2026-04-01T12:05:00.000Z'), use('key_a', '10.0.0.9', '2026-04-01T12:06:00.000Z')],
      state(new Map([['key_a', known('2026-04-01T10:00:00.000Z', 10, ['10.0.0.1'])]])),
      t,
    );
    expect(candidates).toEqual([
      expect.objectContaining({
        type: 'new_source',
        subject: 'key_a|10.0.0.9',
        windowStart: '2026-04-01T12:00:00.000Z',
        detectedAt: '2026-04-01T12:05:00.000Z',
        evidence: expect.objectContaining({ clientIp: '10.0.0.9', knownSources: 1, keyFirstSeenAt: '2026-04-01T10:00:00.000Z' }),
      }),
    ]);
    expect(uses).toEqual([
      { keyId: 'key_a', clientIp: '10.0.0.1', firstSeenAt: '2026-04-01T12:00:00.000Z', lastSeenAt: '2026-04-01T12:00:00.000Z', requests: 1 },
      { keyId: 'key_a', clientIp: '10.0.0.9', firstSeenAt: '2026-04-01T12:05:00.000Z', lastSeenAt: '2026-04-01T12:06:00.000Z', requests: 2 },
    ]);
  });

  it('lets a brand-new key settle in', () => {
    const { candidates } = detectNewSources(
      [use('key_b', '10.0.0.1', '2026-04-01T12:00:00.000Z'), use('key_b', '10.0.0.2', '2026-04-01T12:10:00.000Z'), use('key_b', '10.0.0.3', '2026-04-01T12:59:59.999Z')],
      state(new Map()),
      t,
    );
    expect(candidates).toEqual([]);
  });

  it('counts a key as established by volume before it is an hour old', () => {
    const { candidates } = detectNewSources([use('key_c', '10.0.0.2', '2026-04-01T12:10:00.000Z')], state(new Map([['key_c', known('2026-04-01T12:00:00.000Z', 100, ['10.0.0.1'])]])), t);
    expect(candidates).toHaveLength(1);
  });

  it('leaves requests with an invalid key out', () => {
    const result = detectNewSources([use('key_d', '10.0.0.9', '2026-04-01T12:10:00.000Z', 'unauthorized')], state(new Map([['key_d', known('2026-04-01T00:00:00.000Z', 500, ['10.0.0.1'])]])), t);
    expect(result).toEqual({ candidates: [], uses: [] });
  });

  it('raises at most newSourceMaxPerHour per key and UTC hour, counting those raised before, and learns every address', () => {
    const established = state(new Map([['key_e', known('2026-04-01T00:00:00.000Z', 500, ['10.0.0.1'])]]), new Map([[`key_e|${Date.parse('2026-04-01T12:00:00.000Z')}`, 1]]));
    const { candidates, uses } = detectNewSources(
      ['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4'].map((ip, i) => use('key_e', ip, `2026-04-01T12:0${i}:00.000Z`)).concat(use('key_e', '10.0.1.5', '2026-04-01T13:00:00.000Z')),
      established,
      { ...t, newSourceMaxPerHour: 3 },
    );
    expect(candidates.map(({ evidence, summary }) => [evidence.clientIp, evidence.lastAlertThisHour, summary])).toEqual([
      ['10.0.1.1', false, 'Key key_e was used from 10.0.1.1 for the first time'],
      ['10.0.1.2', true, 'Key key_e was used from 10.0.1.2 for the first time; further new addresses of this key raise no alert until the next hour'],
      ['10.0.1.5', false, 'Key key_e was used from 10.0.1.5 for the first time'],
    ]);
    expect(uses.map((u) => u.clientIp)).toEqual(['10.0.1.1', '10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5']);
  });
});
