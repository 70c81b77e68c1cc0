import { orAfter } from './or-after.js';

describe('orAfter', () => {
  it("gives the promise's value when it settles in time", async () => {
    await expect(orAfter(Promise.resolve('done'), 1000, 'late')).resolves.toBe('done');
  });

  it('gives the fallback once the time is up', async () => {
    await expect(orAfter(new Promise<string>(() => undefined), 10, 'late')).resolves.toBe('late');
  });

  it("passes the promise's rejection on", async () => {
    await expect(orAfter(Promise.reject(new Error('boom')), 1000, 'late')).rejects.toThrow('boom');
  });
});
