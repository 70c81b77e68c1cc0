import { RebuildGate } from './rebuild-gate.js';

/** Whether the gate is open after the messages given as (position, stored-through) headers. */
async function openAfter(messages: [string | undefined, string | undefined][]): Promise<boolean> {
  const gate = new RebuildGate();
  for (const [position, through] of messages) gate.see(position, through);
  return Promise.race([gate.opened.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);
}

describe('RebuildGate', () => {
  it('stays shut until the view folded through the position the first message says the store held', async () => {
    expect(await openAfter([])).toBe(false);
    expect(await openAfter([['1', '3'], ['2', undefined]])).toBe(false);
    expect(await openAfter([['1', '3'], ['2', undefined], ['3', undefined]])).toBe(true);
  });

  it('reads the figure from the first message only', async () => {
    expect(await openAfter([['1', undefined], ['2', '9']])).toBe(true);
  });

  it('opens at the first message when it says nothing usable (an older keys)', async () => {
    expect(await Promise.all([undefined, '', 'x', '-4'].map((through) => openAfter([['1', through]])))).toEqual([true, true, true, true]);
  });
});
