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
const known = (firstSeenAt: string, requests: number, ips: string[]): KeySources => ({ firstSeenAt: Date.parse(firstSeenAt), requests, sourceCount: ips.length, known: new Set(ips) });

describe('detectNewSources', () => {
  it('alerts when an established key shows up from an address it never used', () => {
    const { candidates, uses } = detectNewSources(
      [use('key_a', '10.0.0.1', '2026-04-01T12:00:00.000Z'), use('key_a', '10.0.0.9', '2026-04-01T12:05:00.000Z'), use('key_a', '10.0.0.9', '2026-04-01T12:06:00.000Z')],
      new Map([['key_a', known('2026-04-01T10:00:00.000Z', 10, ['10.0.0.1'])]]),
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
      new Map(),
      t,
    );
    expect(candidates).toEqual([]);
  });

  it('counts a key as established by volume before it is an hour old', () => {
    const { candidates } = detectNewSources([use('key_c', '10.0.0.2', '2026-04-01T12:10:00.000Z')], new Map([['key_c', known('2026-04-01T12:00:00.000Z', 100, ['10.0.0.1'])]]), t);
    expect(candidates).toHaveLength(1);
  });

  it('leaves requests with an invalid key out', () => {
    const result = detectNewSources([use('key_d', '10.0.0.9', '2026-04-01T12:10:00.000Z', 'unauthorized')], new Map([['key_d', known('2026-04-01T00:00:00.000Z', 500, ['10.0.0.1'])]]), t);
    expect(result).toEqual({ candidates: [], uses: [] });
  });
});
