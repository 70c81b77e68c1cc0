import { bindingWindow, limitState, resetTimes, windowState, windowsAt } from './windows.js';

const at = (iso: string) => Date.parse(iso);
const unix = (iso: string) => Date.parse(iso) / 1000;

describe('quota windows', () => {
  it('start at the UTC hour and the UTC day of the request', () => {
    expect(windowsAt(at('2026-11-26T10:37:12.345Z'))).toEqual({
      hourStart: at('2026-11-26T10:00:00.000Z'),
      dayStart: at('2026-11-26T00:00:00.000Z'),
    });
  });

  it('put a request made exactly on a boundary in the window that starts there', () => {
    expect(windowsAt(at('2026-11-27T00:00:00.000Z'))).toEqual({
      hourStart: at('2026-11-27T00:00:00.000Z'),
      dayStart: at('2026-11-27T00:00:00.000Z'),
    });
    expect(windowsAt(at('2026-11-26T23:59:59.999Z'))).toEqual({
      hourStart: at('2026-11-26T23:00:00.000Z'),
      dayStart: at('2026-11-26T00:00:00.000Z'),
    });
  });

  it('reset at the end of the hour and of the day, in unix seconds', () => {
    expect(resetTimes(at('2026-11-26T10:37:12.345Z'))).toEqual({
      hour: unix('2026-11-26T11:00:00Z'),
      day: unix('2026-11-27T00:00:00Z'),
    });
    expect(resetTimes(at('2026-12-31T23:30:00Z'))).toEqual({
      hour: unix('2027-01-01T00:00:00Z'),
      day: unix('2027-01-01T00:00:00Z'),
    });
  });

  it('never report negative remaining, even after a limit was lowered below what was used', () => {
    expect(windowState(10, 3, 0).remaining).toBe(7);
    expect(windowState(10, 10, 0).remaining).toBe(0);
    expect(windowState(5, 8, 0)).toEqual({ limit: 5, used: 8, remaining: 0, resetAt: 0 });
  });

  it('describe both windows of a key at a time', () => {
    expect(limitState({ hour: 100, day: 1000 }, { hour: 7, day: 70 }, at('2026-11-26T10:37:00Z'))).toEqual({
      hour: { limit: 100, used: 7, remaining: 93, resetAt: unix('2026-11-26T11:00:00Z') },
      day: { limit: 1000, used: 70, remaining: 930, resetAt: unix('2026-11-27T00:00:00Z') },
    });
  });

  it('bind on the window with fewer requests remaining, the hour on a tie', () => {
    const now = at('2026-11-26T10:00:00Z');
    expect(bindingWindow(limitState({ hour: 100, day: 1000 }, { hour: 10, day: 10 }, now))).toBe('hour');
    expect(bindingWindow(limitState({ hour: 100, day: 1000 }, { hour: 10, day: 950 }, now))).toBe('day');
    expect(bindingWindow(limitState({ hour: 100, day: 100 }, { hour: 40, day: 40 }, now))).toBe('hour');
  });
});
