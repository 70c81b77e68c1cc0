import { decodeTime } from 'ulid';
import { alertId, dedupKey, uniqueCandidates, type AlertCandidate } from './alert-candidate.js';

const candidate = (detectedAt: string, subject = 'key_a'): AlertCandidate => ({
  type: 'permission_probe',
  severity: 'warning',
  subject,
  windowStart: '2026-04-01T12:00:00.000Z',
  keyId: subject,
  accountId: 'acc_a',
  detectedAt,
  summary: 's',
  evidence: {},
});

describe('uniqueCandidates', () => {
  it('keeps the earliest detection per type, subject and window, in time order', () => {
    const later = candidate('2026-04-01T12:30:00.000Z');
    const earlier = candidate('2026-04-01T12:10:00.000Z');
    const other = candidate('2026-04-01T12:20:00.000Z', 'key_b');
    expect(uniqueCandidates([later, other, earlier])).toEqual([earlier, other]);
    expect(dedupKey(earlier)).toBe('permission_probe|key_a|2026-04-01T12:00:00.000Z');
  });
});

describe('alertId', () => {
  it('is a ULID made from the type, subject and window alone: the same anomaly, the same id', () => {
    const id = alertId(candidate('2026-04-01T12:10:00.000Z'));
    expect(id).toMatch(/^alrt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(alertId(candidate('2026-04-01T12:30:00.000Z'))).toBe(id);
    expect(decodeTime(id.slice(5))).toBe(Date.parse('2026-04-01T12:00:00.000Z'));
    expect(alertId(candidate('2026-04-01T12:10:00.000Z', 'key_b'))).not.toBe(id);
    expect(alertId({ ...candidate('2026-04-01T12:10:00.000Z'), windowStart: '2026-04-01T13:00:00.000Z' })).not.toBe(id);
  });

  it('is made for a window before 1970 too, which the contracts allow: time zero, apart by the digest', () => {
    const before1970 = { ...candidate('1969-12-31T23:10:00.000Z'), windowStart: '1969-12-31T23:00:00.000Z' };
    const year1 = { ...candidate('0001-01-01T00:10:00.000Z'), windowStart: '0001-01-01T00:00:00.000Z' };
    expect([alertId(before1970), alertId(year1)].map((id) => decodeTime(id.slice(5)))).toEqual([0, 0]);
    expect(alertId(before1970)).not.toBe(alertId(year1));
  });
});
