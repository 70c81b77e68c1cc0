import { slidingBursts } from './sliding-burst.js';

const events = (seconds: number[], newFrom = 0) => seconds.map((s, index) => ({ at: s * 1000, isNew: index >= newFrom }));

describe('slidingBursts', () => {
  it('finds each window shorter than the span that holds the threshold', () => {
    expect(slidingBursts(events([0, 10, 20, 30]), 60_000, 3)).toEqual([
      { first: 0, last: 2 },
      { first: 0, last: 3 },
    ]);
  });

  it('does not count events a full window apart together', () => {
    expect(slidingBursts(events([0, 30, 60, 90]), 60_000, 3)).toEqual([]);
    expect(slidingBursts(events([0, 30, 59.999]), 60_000, 3)).toEqual([{ first: 0, last: 2 }]);
  });

  it('reports only windows holding a new event', () => {
    expect(slidingBursts(events([0, 1, 2, 100, 101], 3), 60_000, 3)).toEqual([]);
    expect(slidingBursts(events([0, 1, 2, 3], 3), 60_000, 3)).toEqual([{ first: 0, last: 3 }]);
  });
});
