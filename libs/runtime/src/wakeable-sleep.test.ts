import { WakeableSleep } from './wakeable-sleep.js';

describe('WakeableSleep', () => {
  it('ends after its time when nobody wakes it', async () => {
    const started = Date.now();
    await new WakeableSleep().sleep(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('ends at once when woken, and a wake with nobody asleep is a no-op', async () => {
    const sleep = new WakeableSleep();
    sleep.wake();
    const sleeping = sleep.sleep(60_000);
    sleep.wake();
    await expect(sleeping).resolves.toBeUndefined();
  });
});
