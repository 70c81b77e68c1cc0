import { firstMillisecondFrom, lastMillisecondTo } from './instant-bounds.js';

describe('firstMillisecondFrom / lastMillisecondTo', () => {
  it.each([
    ['2026-11-27T10:00:00Z', '2026-11-27T10:00:00.000Z', '2026-11-27T10:00:00.000Z'],
    ['2026-11-27T10:00:00.5Z', '2026-11-27T10:00:00.500Z', '2026-11-27T10:00:00.500Z'],
    ['2026-11-27T10:00:00.0005Z', '2026-11-27T10:00:00.001Z', '2026-11-27T10:00:00.000Z'],
    ['2026-11-27T10:00:00.000000Z', '2026-11-27T10:00:00.000Z', '2026-11-27T10:00:00.000Z'],
    ['2026-11-27T10:59:59.9999Z', '2026-11-27T11:00:00.000Z', '2026-11-27T10:59:59.999Z'],
    ['2026-11-27T11:00:00.0009+01:00', '2026-11-27T10:00:00.001Z', '2026-11-27T10:00:00.000Z'],
  ])('rounds %s up to %s as a lower bound, down to %s as an upper one', (bound, up, down) => {
    expect(firstMillisecondFrom(bound).toISOString()).toBe(up);
    expect(lastMillisecondTo(bound).toISOString()).toBe(down);
  });
});
