import { WakeableLoop } from './wakeable-loop.js';

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
};

describe('WakeableLoop', () => {
  it('runs again at once while passes find work, then waits for the interval', async () => {
    const work = [3, 2, 0];
    let passes = 0;
    const loop = new WakeableLoop({ pass: async () => work[passes++] ?? 0, idleMs: 60_000, onError: () => undefined });
    loop.start();
    await until(() => passes === 3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(passes).toBe(3);
    await loop.stop();
  });

  it('wakes from its idle wait at once', async () => {
    let passes = 0;
    const loop = new WakeableLoop({ pass: async () => (passes++, 0), idleMs: 60_000, onError: () => undefined });
    loop.start();
    await until(() => passes === 1);
    loop.wake();
    await until(() => passes === 2);
    expect(passes).toBe(2);
    await loop.stop();
  });

  it('keeps a wake that came during a pass, so the next pass starts without waiting', async () => {
    let passes = 0;
    let release: () => void = () => undefined;
    const loop = new WakeableLoop({
      pass: () => {
        passes++;
        return passes === 1 ? new Promise<number>((resolve) => (release = () => resolve(0))) : Promise.resolve(0);
      },
      idleMs: 60_000,
      onError: () => undefined,
    });
    loop.start();
    await until(() => passes === 1);
    loop.wake();
    release();
    await until(() => passes === 2);
    expect(passes).toBe(2);
    await loop.stop();
  });

  it('reports a failing pass and carries on', async () => {
    const errors: unknown[] = [];
    let passes = 0;
    const loop = new WakeableLoop({
      pass: async () => {
        passes++;
        if (passes === 1) throw new Error('boom');
        return 0;
      },
      idleMs: 1,
      onError: (error) => errors.push(error),
    });
    loop.start();
    await until(() => passes >= 2);
    await loop.stop();
    expect(errors).toEqual([new Error('boom')]);
  });

  it('stops from its idle wait without waiting out the interval', async () => {
    // The interval is longer than the test timeout: only a stop that wakes the loop ends in time.
    const loop = new WakeableLoop({ pass: async () => 0, idleMs: 10 * 60_000, onError: () => undefined });
    loop.start();
    await loop.stop();
  });
});
