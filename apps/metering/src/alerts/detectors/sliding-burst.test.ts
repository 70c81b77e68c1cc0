import { burstEndHours, slidingBursts } from './sliding-burst.js';

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

describe('burstEndHours', () => {
  const t = (iso: string) => Date.parse(iso);
  const hours = (list: number[]) => list.map((ms) => new Date(ms).toISOString());

  it('is the hour of the event when the window cannot reach past it', () => {
    expect(hours(burstEndHours([t('2026-04-01T10:20:00.000Z'), t('2026-04-01T10:58:59.999Z')], 60_000))).toEqual(['2026-04-01T10:00:00.000Z']);
  });

  it('adds each next hour a window holding the event can end in', () => {
    expect(hours(burstEndHours([t('2026-04-01T10:59:00.001Z')], 60_000))).toEqual(['2026-04-01T10:00:00.000Z', '2026-04-01T11:00:00.000Z']);
    expect(hours(burstEndHours([t('2026-04-01T10:30:00.000Z')], 7_200_000))).toEqual([
      '2026-04-01T10:00:00.000Z',
      '2026-04-01T11:00:00.000Z',
      '2026-04-01T12:00:00.000Z',
    ]);
  });

  it('never adds an hour that starts a full window after the event', () => {
    expect(hours(burstEndHours([t('2026-04-01T10:59:00.000Z')], 60_000))).toEqual(['2026-04-01T10:00:00.000Z']);
  });

  it('lists each hour once, in order, over all the events', () => {
    expect(hours(burstEndHours([t('2026-04-01T12:10:00.000Z'), t('2026-04-01T10:59:30.000Z'), t('2026-04-01T10:05:00.000Z')], 60_000))).toEqual([
      '2026-04-01T10:00:00.000Z',
      '2026-04-01T11:00:00.000Z',
      '2026-04-01T12:00:00.000Z',
    ]);
  });
});
