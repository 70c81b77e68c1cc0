import { throttled } from './throttled.js';

describe('throttled', () => {
  it('writes the first at once, then one per interval saying how many it left out', () => {
    let clock = 0;
    const log = throttled(1000, () => clock);
    const written: number[] = [];
    const write = (suppressed: number) => written.push(suppressed);
    log(write);
    clock = 10;
    log(write);
    clock = 999;
    log(write);
    expect(written).toEqual([0]);
    clock = 1000;
    log(write);
    expect(written).toEqual([0, 2]);
    clock = 5000;
    log(write);
    expect(written).toEqual([0, 2, 0]);
  });
});
