import { foldWindows } from './fold-windows.js';

const key = 'key_01JABCDEFGHJKMNPQRSTVWXYZ0';

describe('foldWindows', () => {
  it('sums outcomes per key into the UTC hour and day of each event', () => {
    const windows = foldWindows([
      { keyId: key, accountId: 'acc_a', occurredAt: '2026-01-15T10:59:59.999Z', outcome: 'allowed' },
      { keyId: key, accountId: 'acc_a', occurredAt: '2026-01-15T10:00:00.000Z', outcome: 'forbidden' },
      { keyId: key, accountId: 'acc_a', occurredAt: '2026-01-15T11:00:00.000Z', outcome: 'rate_limited' },
      { keyId: key, accountId: 'acc_a', occurredAt: '2026-01-14T23:30:00.000Z', outcome: 'unauthorized' },
      { keyId: null, accountId: null, occurredAt: '2026-01-15T10:00:00.000Z', outcome: 'unauthorized' },
    ]);
    expect(windows.map(({ granularity, windowStart, requests, allowed, forbidden, rateLimited, unauthorized }) => [granularity, windowStart, requests, allowed, forbidden, rateLimited, unauthorized])).toEqual([
      ['day', '2026-01-14T00:00:00.000Z', 1, 0, 0, 0, 1],
      ['day', '2026-01-15T00:00:00.000Z', 3, 1, 1, 1, 0],
      ['hour', '2026-01-14T23:00:00.000Z', 1, 0, 0, 0, 1],
      ['hour', '2026-01-15T10:00:00.000Z', 2, 1, 1, 0, 0],
      ['hour', '2026-01-15T11:00:00.000Z', 1, 0, 0, 1, 0],
    ]);
  });

  it('gives nothing to events of unknown keys', () => {
    expect(foldWindows([{ keyId: null, accountId: null, occurredAt: '2026-01-15T10:00:00.000Z', outcome: 'unauthorized' }])).toEqual([]);
  });
});
