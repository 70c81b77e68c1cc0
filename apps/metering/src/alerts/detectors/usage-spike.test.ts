import { DEFAULT_THRESHOLDS } from '../thresholds.js';
import { detectUsageSpikes, evaluateSpike, medianOf } from './usage-spike.js';

const t = { ...DEFAULT_THRESHOLDS, spikeMinRequests: 100, spikeFactor: 3, spikeMadK: 5, spikeMinHistoryHours: 6 };
const steady = (count: number) => Array.from({ length: 24 }, () => count);

describe('medianOf', () => {
  it('takes the middle, or the mean of the two middles', () => {
    expect([medianOf([]), medianOf([3, 1, 2]), medianOf([4, 1, 3, 2])]).toEqual([0, 2, 2.5]);
  });
});

describe('evaluateSpike', () => {
  it('fires when the hour reaches the largest of the minimum, factor x median and median + k x MAD', () => {
    expect(evaluateSpike(150, steady(50), t)).toEqual({ spike: true, threshold: 150, median: 50, mad: 0, activeHours: 24 });
    expect(evaluateSpike(149, steady(50), t).spike).toBe(false);
    expect(evaluateSpike(100, steady(10), t)).toMatchObject({ spike: true, threshold: 100 });
    expect(evaluateSpike(99, steady(10), t).spike).toBe(false);
  });

  it('lets a noisy key be noisy', () => {
    const noisy = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 100 : 300));
    // median 200, MAD 100: the bar is 200 + 5 x 100 = 700, above 3 x 200.
    expect(evaluateSpike(650, noisy, t)).toMatchObject({ spike: false, threshold: 700, median: 200, mad: 100 });
    expect(evaluateSpike(700, noisy, t).spike).toBe(true);
  });

  it('ignores idle hours, so an office-hours key is compared with its office hours', () => {
    const officeHours = Array.from({ length: 24 }, (_, i) => (i >= 9 && i < 17 ? 400 : 0));
    expect(evaluateSpike(500, officeHours, t)).toMatchObject({ spike: false, median: 400, activeHours: 8 });
  });

  it('never pages for a key without enough history', () => {
    const young = [...Array.from({ length: 19 }, () => 0), 5, 5, 5, 5, 5];
    expect(evaluateSpike(10_000, young, t)).toEqual({ spike: false, threshold: null, median: 5, mad: 0, activeHours: 5 });
  });
});

describe('detectUsageSpikes', () => {
  const hourStart = '2026-04-02T00:00:00.000Z';
  const times = (count: number) => Array.from({ length: count }, (_, i) => new Date(Date.parse(hourStart) + i * 1000).toISOString());

  it('dates the alert at the request that crossed the threshold', () => {
    const [alert] = detectUsageSpikes([{ keyId: 'key_a', accountId: 'acc_a', hourStart, requests: 120, history: steady(10), newEventTimes: times(40) }], t);
    // 80 were stored before this batch; the 20th new one made it 100.
    expect(alert).toMatchObject({ type: 'usage_spike', subject: 'key_a', windowStart: hourStart, detectedAt: times(40)[19], evidence: { requests: 100, threshold: 100 } });
  });

  it('raises nothing for an ordinary hour', () => {
    expect(detectUsageSpikes([{ keyId: 'key_a', accountId: 'acc_a', hourStart, requests: 12, history: steady(10), newEventTimes: times(2) }], t)).toEqual([]);
  });
});
