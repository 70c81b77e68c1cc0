import { windowRange } from './window-range.js';

describe('windowRange', () => {
  it('covers every window touching the range, both ends included', () => {
    expect(windowRange('2026-01-15T10:30:00Z', '2026-01-15T12:00:00Z', 'hour')).toEqual({
      ok: true,
      starts: ['2026-01-15T10:00:00.000Z', '2026-01-15T11:00:00.000Z', '2026-01-15T12:00:00.000Z'],
    });
    expect(windowRange('2026-01-15T10:30:00Z', '2026-01-15T10:30:00Z', 'day')).toEqual({ ok: true, starts: ['2026-01-15T00:00:00.000Z'] });
  });

  it('refuses a reversed range', () => {
    expect(windowRange('2026-01-15T10:30:01Z', '2026-01-15T10:30:00Z', 'hour')).toEqual({ ok: false, details: 'from: must not be after to' });
  });

  it('reads a range finer than a millisecond to the digit: the window it lies in, or a 400 when it runs backwards', () => {
    expect(windowRange('2026-01-15T10:59:59.9995Z', '2026-01-15T10:59:59.9999Z', 'hour')).toEqual({ ok: true, starts: ['2026-01-15T10:00:00.000Z'] });
    expect(windowRange('2026-01-15T10:00:00.0009Z', '2026-01-15T10:00:00.0005Z', 'hour')).toEqual({ ok: false, details: 'from: must not be after to' });
  });

  it('refuses more windows than one reply should hold', () => {
    expect(windowRange('2026-01-01T00:00:00Z', '2026-04-03T23:00:00Z', 'hour')).toEqual({ ok: true, starts: expect.any(Array) });
    expect(windowRange('2026-01-01T00:00:00Z', '2026-04-04T00:00:00Z', 'hour')).toEqual({
      ok: false,
      details: 'from: the range spans 2233 hourly windows, at most 2232 are allowed',
    });
    expect(windowRange('2016-01-01T00:00:00Z', '2026-01-07T23:59:59Z', 'day')).toMatchObject({ ok: true });
    expect(windowRange('2016-01-01T00:00:00Z', '2026-01-08T00:00:00Z', 'day')).toEqual({ ok: false, details: 'from: the range spans 3661 daily windows, at most 3660 are allowed' });
  });
});
