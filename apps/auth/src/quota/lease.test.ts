import { leaseOf, nextLeaseSize, spend } from './lease.js';

describe('a lease', () => {
  it('starts right after the units granted to waiting requests, and numbers each unit it spends', () => {
    const lease = leaseOf({ hourUsedBefore: 10, dayUsedBefore: 50, granted: 2, leased: 3 });
    expect([spend(lease), spend(lease), spend(lease)]).toEqual([
      { admitted: true, hourUsed: 13, dayUsed: 53 },
      { admitted: true, hourUsed: 14, dayUsed: 54 },
      { admitted: true, hourUsed: 15, dayUsed: 55 },
    ]);
    expect(lease.left).toBe(0);
  });

  it.each([
    [0, 10, 1],
    [1, 10, 2],
    [128, 249, 256],
    [256, 10, 256],
    [8, 250, 8],
    [8, 1000, 8],
    [0, 600, 1],
    [8, 1001, 4],
    [1, 5000, 0],
    [512, 500, 256],
  ])('after a lease of %i and %i ms since the last refill, the next is %i (max 256)', (previous, since, next) => {
    expect(nextLeaseSize(previous, since, 256)).toBe(next);
  });
});
