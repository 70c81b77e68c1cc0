import { fromNotAfterTo, utcInstant } from './exact-instant.js';

describe('utcInstant', () => {
  it.each([
    ['2026-11-27T10:00:00Z', '2026-11-27T10:00:00.000Z'],
    ['2026-11-27T10:00:00.5Z', '2026-11-27T10:00:00.500Z'],
    ['2026-11-27T10:00:00.0005Z', '2026-11-27T10:00:00.0005Z'],
    ['2026-11-27T11:00:00.000900+01:00', '2026-11-27T10:00:00.0009Z'],
    ['2026-11-27T10:00:00.123456789Z', '2026-11-27T10:00:00.123456789Z'],
    [`2026-11-27T10:00:00.123456789${'9'.repeat(100)}Z`, '2026-11-27T10:00:00.123456789Z'],
    ['2026-11-27T10:00:00.0000000001Z', '2026-11-27T10:00:00.000Z'],
    ['2026-11-27T10:00:00.000000Z', '2026-11-27T10:00:00.000Z'],
    ['2026-11-27T00:30:00.9999-00:30', '2026-11-27T01:00:00.9999Z'],
  ])('writes %s as %s', (written, utc) => {
    expect(utcInstant(written)).toBe(utc);
  });
});

describe('fromNotAfterTo', () => {
  const range = (from: string, to: string) => ({ ok: true, value: { from, to } }) as const;

  it('judges a range to the nanosecond', () => {
    expect(fromNotAfterTo(range('2026-11-27T10:00:00.0009Z', '2026-11-27T10:00:00.0005Z'))).toEqual({ ok: false, details: 'from: must not be after to' });
    const inside = range('2026-11-27T10:00:00.0005Z', '2026-11-27T10:00:00.0009Z');
    expect(fromNotAfterTo(inside)).toBe(inside);
  });

  it('passes a range with one end, and a query that was already refused', () => {
    const open = { ok: true, value: { from: '2026-11-27T10:00:00Z' } } as const;
    expect(fromNotAfterTo(open)).toBe(open);
    const refused = { ok: false, details: 'from: must be an ISO 8601 date-time' } as const;
    expect(fromNotAfterTo(refused)).toBe(refused);
  });
});
