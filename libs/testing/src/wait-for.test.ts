import { waitFor } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value the check gives', async () => {
    let calls = 0;

    const value = await waitFor('the third poll', () => (++calls >= 3 ? { calls } : undefined), 1000, 1);

    expect(value).toEqual({ calls: 3 });
    expect(calls).toBe(3);
  });

  it('awaits an async check, and keeps polling through falsy values and errors', async () => {
    const answers: unknown[] = [0, '', null, new Error('not yet'), false, 'ready'];

    const value = await waitFor(
      'an async answer',
      async () => {
        const next = answers.shift();
        if (next instanceof Error) throw next;
        return next;
      },
      1000,
      1,
    );

    expect(value).toBe('ready');
    expect(answers).toEqual([]);
  });

  it('times out naming what it waited for', async () => {
    await expect(waitFor('the key to be revoked', () => false, 50, 5)).rejects.toThrow(new Error('timed out after 50 ms waiting for the key to be revoked'));
  });

  it('times out with the last error the check threw', async () => {
    let calls = 0;
    const check = () => {
      calls += 1;
      throw new Error(`not found (attempt ${calls})`);
    };

    const error = await waitFor('the key view', check, 50, 5).catch((caught: Error) => caught);

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(`timed out after 50 ms waiting for the key view: Error: not found (attempt ${calls})`);
  });

  it('gives up close to the deadline', async () => {
    const started = Date.now();

    await expect(waitFor('never', () => null, 100, 10)).rejects.toThrow('waiting for never');

    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(100);
    expect(elapsed).toBeLessThan(1000);
  });
});
