import { splitGrant } from './split-grant.js';

describe('splitGrant', () => {
  it('counts the first granted requests in arrival order, each seeing the usage right after itself', () => {
    expect(splitGrant({ hourUsedBefore: 7, dayUsedBefore: 70, granted: 3, leased: 0 }, 3)).toEqual([
      { admitted: true, hourUsed: 8, dayUsed: 71 },
      { admitted: true, hourUsed: 9, dayUsed: 72 },
      { admitted: true, hourUsed: 10, dayUsed: 73 },
    ]);
  });

  it('turns the rest away uncounted, seeing the usage the grant left', () => {
    expect(splitGrant({ hourUsedBefore: 8, dayUsedBefore: 20, granted: 2, leased: 0 }, 4)).toEqual([
      { admitted: true, hourUsed: 9, dayUsed: 21 },
      { admitted: true, hourUsed: 10, dayUsed: 22 },
      { admitted: false, hourUsed: 10, dayUsed: 22 },
      { admitted: false, hourUsed: 10, dayUsed: 22 },
    ]);
  });

  it('grants nothing when a window is already full', () => {
    expect(splitGrant({ hourUsedBefore: 10, dayUsedBefore: 50, granted: 0, leased: 0 }, 2)).toEqual([
      { admitted: false, hourUsed: 10, dayUsed: 50 },
      { admitted: false, hourUsed: 10, dayUsed: 50 },
    ]);
  });
});
