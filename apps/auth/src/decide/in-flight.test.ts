import { InFlight } from './in-flight.js';

describe('InFlight', () => {
  it('is idle at once with nothing running', async () => {
    await expect(new InFlight().idle(1000)).resolves.toBeUndefined();
  });

  it('waits for running work to finish', async () => {
    const inFlight = new InFlight();
    let finish!: () => void;
    const work = inFlight.run(() => new Promise<void>((resolve) => (finish = resolve)));
    let idle = false;
    const waiting = inFlight.idle(1000).then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    finish();
    await work;
    await waiting;
    expect(idle).toBe(true);
  });

  it('stops waiting after the timeout', async () => {
    const inFlight = new InFlight();
    void inFlight.run(() => new Promise(() => undefined));
    const started = performance.now();
    await inFlight.idle(20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });
});
