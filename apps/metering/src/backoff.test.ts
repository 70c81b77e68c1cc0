import { backoffMs } from './backoff.js';

describe('backoffMs', () => {
  it('doubles from the base with each attempt, up to the cap', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffMs(attempt, 1000, 10_000))).toEqual([1000, 2000, 4000, 8000, 10_000]);
    expect(backoffMs(2000, 1000, 60_000)).toBe(60_000);
  });
});
