import { ReplayGuard } from './replay-guard.js';

describe('ReplayGuard', () => {
  it('takes every event of a stream replayed from its first message once, in position order', () => {
    const guard = new ReplayGuard();
    expect(['1', '2', '5', '9'].map((p) => guard.isNew(p))).toEqual([true, true, true, true]);
  });

  it('skips what the view already folded when a stream made anew delivers it again, and takes what follows', () => {
    const guard = new ReplayGuard();
    for (const p of ['1', '2', '3', '4']) guard.isNew(p);
    expect(['1', '2', '3', '4', '5', '6'].map((p) => guard.isNew(p))).toEqual([false, false, false, false, true, true]);
  });

  it('takes a message without a position (not published by the relay), before or after positioned ones', () => {
    const guard = new ReplayGuard();
    expect([undefined, '', '3', undefined, ''].map((p) => guard.isNew(p))).toEqual([true, true, true, true, true]);
    expect(guard.isNew('3')).toBe(false);
  });

  it('takes a message whose position is not a positive whole number, and keeps the last good one', () => {
    const guard = new ReplayGuard();
    guard.isNew('7');
    expect(['x', '-2', '0', '1.5', '9007199254740993'].map((p) => guard.isNew(p))).toEqual([true, true, true, true, true]);
    expect(guard.isNew('7')).toBe(false);
    expect(guard.isNew('8')).toBe(true);
  });
});
