import { decodeTime, isValid } from 'ulid';
import { newUlid } from './ulid.js';

describe('newUlid', () => {
  it('makes valid ULIDs carrying the current time', () => {
    const before = Date.now();
    const id = newUlid();
    expect(isValid(id)).toBe(true);
    expect(decodeTime(id)).toBeGreaterThanOrEqual(before);
    expect(decodeTime(id)).toBeLessThanOrEqual(Date.now());
  });

  it('never repeats across many pool refills', () => {
    const ids = new Set(Array.from({ length: 20_000 }, () => newUlid()));
    expect(ids.size).toBe(20_000);
  });

  it('spreads the random part over the whole alphabet', () => {
    const seen = new Set(Array.from({ length: 2000 }, () => newUlid().slice(10)).join(''));
    expect(seen.size).toBe(32);
  });
});
