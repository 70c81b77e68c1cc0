import { ReplayGuard } from './replay-guard.js';

/** Whether the guard takes the message at position `p` carrying the event the relay stores there. */
const isNew = (guard: ReplayGuard, p: string | undefined) => guard.replay(p, `evt-${p}`) === 'new';

describe('ReplayGuard', () => {
  it('takes every event of a stream replayed from its first message once, in position order', () => {
    const guard = new ReplayGuard();
    expect(['1', '2', '5', '9'].map((p) => isNew(guard, p))).toEqual([true, true, true, true]);
  });

  it('skips what the view already folded when a stream made anew delivers it again, and takes what follows', () => {
    const guard = new ReplayGuard();
    for (const p of ['1', '2', '3', '4']) isNew(guard, p);
    guard.verifyReplays();
    expect(['1', '2', '3', '4', '5', '6'].map((p) => guard.replay(p, `evt-${p}`))).toEqual(['applied', 'applied', 'applied', 'applied', 'new', 'new']);
  });

  it('takes a message without a position (not published by the relay), before or after positioned ones', () => {
    const guard = new ReplayGuard();
    expect([undefined, '', '3', undefined, ''].map((p) => isNew(guard, p))).toEqual([true, true, true, true, true]);
    expect(isNew(guard, '3')).toBe(false);
  });

  it('takes a message whose position is not a positive whole number, and keeps the last good one', () => {
    const guard = new ReplayGuard();
    isNew(guard, '7');
    expect(['x', '-2', '0', '1.5', '9007199254740993'].map((p) => isNew(guard, p))).toEqual([true, true, true, true, true]);
    expect(isNew(guard, '7')).toBe(false);
    expect(isNew(guard, '8')).toBe(true);
  });

  it('on a stream made anew, another event at a position already folded, or one at a position never folded, is another history', () => {
    const guard = new ReplayGuard();
    for (const p of ['1', '2', '4']) isNew(guard, p);
    guard.verifyReplays();
    expect(guard.replay('1', 'evt-1')).toBe('applied');
    expect(guard.replay('2', 'evt-other')).toBe('diverged');
    expect(guard.replay('3', 'evt-3')).toBe('diverged');
    expect(guard.replay('4', undefined)).toBe('applied');
  });

  it('on the stream it follows, a message again at a position already folded is skipped whatever it carries', () => {
    const guard = new ReplayGuard();
    for (const p of ['1', '2']) isNew(guard, p);
    expect(guard.replay('2', 'evt-other')).toBe('applied');
  });

  it('keeps the events of far-apart positions apart', () => {
    const guard = new ReplayGuard();
    for (const p of ['1', '65537', '9007199254740991']) isNew(guard, p);
    guard.verifyReplays();
    expect(['1', '65537', '9007199254740991'].map((p) => guard.replay(p, `evt-${p}`))).toEqual(['applied', 'applied', 'applied']);
    expect(guard.replay('65536', 'evt-65537')).toBe('diverged');
  });

  it('a message saying the store held events only up to a position before the last one folded is a store that lost them', () => {
    const guard = new ReplayGuard();
    for (const p of ['1', '2', '3', '4', '5']) isNew(guard, p);
    guard.verifyReplays();
    expect(guard.replay('1', 'evt-1', '3')).toBe('lost');
  });

  it('a message saying the store held every event folded, or more, is taken as usual; a bad figure says nothing', () => {
    const folded = () => {
      const guard = new ReplayGuard();
      for (const p of ['1', '2', '3']) isNew(guard, p);
      guard.verifyReplays();
      return guard;
    };
    expect(['3', '9', '', 'x', '-1', '2.5'].map((through) => folded().replay('1', 'evt-1', through))).toEqual(['applied', 'applied', 'applied', 'applied', 'applied', 'applied']);
    expect(new ReplayGuard().replay('1', 'evt-1', '0')).toBe('new');
  });
});
