import { BASELINE_HOURS, HourHistory } from './hour-history.js';
import { HOUR_MS } from '../windows/utc-window.js';

const H = Date.parse('2026-11-27T14:00:00.000Z');
const flat = (requests: number) => Array.from({ length: BASELINE_HOURS }, () => requests);

/** A cache that batch `turn` taught key_a's history at hour H. */
function taught(turn = 7, history = flat(10)) {
  const cache = new HourHistory();
  const batch = cache.begin(turn, [{ keyId: 'key_a', hour: H, requests: 3 }]);
  batch.learned('key_a', H, history);
  batch.commit();
  return cache;
}

describe('HourHistory', () => {
  it('knows nothing before a batch has committed what it read', () => {
    const cache = new HourHistory();
    const batch = cache.begin(1, []);
    expect(batch.lookup('key_a', H)).toBeUndefined();
    batch.learned('key_a', H, flat(10));
    expect(batch.lookup('key_a', H)).toBeUndefined();
  });

  it('gives the next batch what the last one read', () => {
    expect(taught(7).begin(8, []).lookup('key_a', H)).toEqual(flat(10));
  });

  it('forgets everything when another batch came in between (another replica, or one of its own that failed)', () => {
    const cache = taught(7);
    expect(cache.begin(9, []).lookup('key_a', H)).toBeUndefined();
    // Once forgotten, it stays forgotten: the batch after that one does not see the old history either.
    expect(cache.begin(10, []).lookup('key_a', H)).toBeUndefined();
  });

  it('forgets what a batch read when that batch never committed', () => {
    const cache = taught(7);
    const failed = cache.begin(8, []);
    failed.learned('key_b', H, flat(1));
    expect(cache.begin(9, []).lookup('key_b', H)).toBeUndefined();
  });

  it('adds a batch’s late events to the hours they fall in, as seen by that batch and after it', () => {
    const cache = taught(7);
    const late = [
      { keyId: 'key_a', hour: H - 3 * HOUR_MS, requests: 5 },
      { keyId: 'key_a', hour: H - BASELINE_HOURS * HOUR_MS, requests: 2 },
      { keyId: 'key_a', hour: H - (BASELINE_HOURS + 1) * HOUR_MS, requests: 100 },
      { keyId: 'key_a', hour: H, requests: 40 },
      { keyId: 'key_b', hour: H - 3 * HOUR_MS, requests: 1000 },
    ];
    const expected = flat(10);
    expected[BASELINE_HOURS - 3] += 5;
    expected[0] += 2;

    const batch = cache.begin(8, late);
    expect(batch.lookup('key_a', H)).toEqual(expected);
    batch.commit();
    expect(cache.begin(9, []).lookup('key_a', H)).toEqual(expected);
  });

  it('takes a history read during the batch as it was read: the batch’s own increments are in it already', () => {
    const cache = new HourHistory();
    const batch = cache.begin(1, [{ keyId: 'key_a', hour: H - HOUR_MS, requests: 5 }]);
    batch.learned('key_a', H, flat(4));
    batch.commit();
    expect(cache.begin(2, []).lookup('key_a', H)).toEqual(flat(4));
  });

  it('lets go of hours two behind the newest a batch touched', () => {
    const cache = taught(7);
    cache.begin(8, [{ keyId: 'key_b', hour: H + HOUR_MS, requests: 1 }]).commit();
    expect(cache.begin(9, []).lookup('key_a', H)).toEqual(flat(10));
    cache.begin(9, [{ keyId: 'key_b', hour: H + 2 * HOUR_MS, requests: 1 }]).commit();
    expect(cache.begin(10, []).lookup('key_a', H)).toBeUndefined();
  });

  it('starts over rather than hold more keys than it may', () => {
    const cache = new HourHistory(2);
    const batch = cache.begin(1, []);
    for (const keyId of ['key_a', 'key_b', 'key_c']) batch.learned(keyId, H, flat(1));
    batch.commit();
    expect(cache.begin(2, []).lookup('key_a', H)).toBeUndefined();
  });
});
