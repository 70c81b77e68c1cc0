import { StreamHead } from './stream-head.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A fetch the test answers by hand, counting how many requests are out at once. */
function manualFetch() {
  const pending: { resolve: (value: number) => void; reject: (error: unknown) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let calls = 0;
  const fetch = () => {
    calls++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<number>((resolve, reject) => {
      pending.push({
        resolve: (value) => {
          inFlight--;
          resolve(value);
        },
        reject: (error) => {
          inFlight--;
          reject(error);
        },
      });
    });
  };
  /** The next request, once the head has sent it (it starts on a later turn of the event loop). */
  const nextRequest = async () => {
    for (let turn = 0; turn < 100 && pending.length === 0; turn++) await tick();
    const request = pending.shift();
    if (!request) throw new Error('no request was sent');
    return request;
  };
  const sent = async (count: number) => {
    for (let turn = 0; turn < 100 && calls < count; turn++) await tick();
    if (calls < count) throw new Error(`only ${calls} requests were sent`);
  };
  return {
    fetch,
    sent,
    answer: async (value: number) => (await nextRequest()).resolve(value),
    fail: async (error: Error) => (await nextRequest()).reject(error),
    stats: () => ({ calls, maxInFlight }),
  };
}

const ONE_SECOND = 1000;

describe('StreamHead', () => {
  it('asks once for callers that arrive together', async () => {
    const remote = manualFetch();
    const head = new StreamHead(remote.fetch, 0);
    const answers = Promise.all([head.current(), head.current(), head.current()]);
    await remote.answer(7);
    expect(await answers).toEqual([7, 7, 7]);
    expect(remote.stats()).toEqual({ calls: 1, maxInFlight: 1 });
  }, ONE_SECOND);

  it('never answers a caller with a request sent before it asked', async () => {
    const remote = manualFetch();
    const head = new StreamHead(remote.fetch, 0);
    const early = head.current();
    await remote.sent(1);
    const late = head.current();
    await remote.answer(1);
    expect(await early).toBe(1);
    await remote.answer(2);
    expect(await late).toBe(2);
    expect(remote.stats()).toEqual({ calls: 2, maxInFlight: 1 });
  }, ONE_SECOND);

  it('keeps at most one request in flight under a flood of callers', async () => {
    let calls = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const head = new StreamHead(async () => {
      calls++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      return calls;
    }, 0);
    const answers: Promise<number>[] = [];
    for (let i = 0; i < 500; i++) {
      answers.push(head.current());
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(answers);
    expect(maxInFlight).toBe(1);
    expect(calls).toBeLessThanOrEqual(20);
  }, ONE_SECOND);

  it('spaces requests at least minGapMs apart', async () => {
    let now = 0;
    const remote = manualFetch();
    const head = new StreamHead(remote.fetch, 5, () => now);
    const first = head.current();
    await remote.answer(1);
    await first;
    now = 2;
    const second = head.current();
    await tick();
    expect(remote.stats().calls).toBe(1);
    now = 5;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(remote.stats().calls).toBe(2);
    await remote.answer(2);
    expect(await second).toBe(2);
  }, ONE_SECOND);

  it('passes a failed request to its callers and recovers on the next', async () => {
    const remote = manualFetch();
    const head = new StreamHead(remote.fetch, 0);
    const failing = head.current();
    await remote.fail(new Error('stream info timed out'));
    await expect(failing).rejects.toThrow('stream info timed out');
    const next = head.current();
    await remote.answer(3);
    expect(await next).toBe(3);
  }, ONE_SECOND);
});
