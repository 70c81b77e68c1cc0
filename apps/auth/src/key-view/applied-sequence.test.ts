import { AppliedSequence } from './applied-sequence.js';

describe('AppliedSequence', () => {
  it('answers at once for a sequence already applied', async () => {
    const applied = new AppliedSequence();
    applied.advance(5);
    await expect(applied.reached(5, 0)).resolves.toBe(true);
    await expect(applied.reached(0)).resolves.toBe(true);
  });

  it('wakes a waiter when the sequence is applied, and only then', async () => {
    const applied = new AppliedSequence();
    let woke = false;
    const waiting = applied.reached(3, 1000).then((reached) => {
      woke = true;
      return reached;
    });
    applied.advance(2);
    await Promise.resolve();
    expect(woke).toBe(false);
    applied.advance(4);
    await expect(waiting).resolves.toBe(true);
  });

  it('gives up after the timeout', async () => {
    const applied = new AppliedSequence();
    await expect(applied.reached(1, 5)).resolves.toBe(false);
    applied.advance(1);
    expect(applied.value).toBe(1);
  });

  it('never moves backwards', () => {
    const applied = new AppliedSequence();
    applied.advance(9);
    applied.advance(3);
    expect(applied.value).toBe(9);
  });

  it('counts from nothing again after a restart (a stream made anew), and waiters wait on for the new numbers', async () => {
    const applied = new AppliedSequence();
    applied.advance(9);
    const waiting = applied.reached(12, 1000);
    applied.restart('made anew');
    expect(applied.value).toBe(0);
    await expect(applied.reached(1, 0)).resolves.toBe(false);
    applied.advance(3);
    expect(applied.value).toBe(3);
    applied.advance(12);
    await expect(waiting).resolves.toBe(true);
  });

  it('lets every waiter go on release', async () => {
    const applied = new AppliedSequence();
    const waiting = [applied.reached(10), applied.reached(20, 1000)];
    applied.release();
    await expect(Promise.all(waiting)).resolves.toEqual([false, false]);
  });

  it('a sequence on another stream (a creation time) is reached only once the view counts on that stream, and the follower is told', async () => {
    const applied = new AppliedSequence();
    const told: string[] = [];
    applied.onOtherStream = (stream) => told.push(stream);
    applied.restart('old');
    applied.advance(9);
    await expect(applied.reached(2, 0, 'old')).resolves.toBe(true);
    const onNew = applied.reached(2, 1000, 'new');
    const emptyNew = applied.reached(0, 1000, 'new');
    expect(told).toEqual(['new', 'new']);
    applied.restart('new');
    await expect(emptyNew).resolves.toBe(true);
    applied.advance(1);
    await expect(applied.reached(2, 0, 'new')).resolves.toBe(false);
    applied.advance(2);
    await expect(onNew).resolves.toBe(true);
  });
});
