import { ResourceStore } from './resource-store.js';

const live = { accountId: 'acc_1', environment: 'live' } as const;
const test = { accountId: 'acc_1', environment: 'test' } as const;
const otherAccount = { accountId: 'acc_2', environment: 'live' } as const;

describe('ResourceStore', () => {
  it('keeps each account and environment apart', () => {
    const store = new ResourceStore<{ id: string }>();
    store.put(live, { id: 'a' });

    expect(store.get(live, 'a')).toEqual({ id: 'a' });
    expect(store.get(test, 'a')).toBeUndefined();
    expect(store.get(otherAccount, 'a')).toBeUndefined();
    expect(store.delete(test, 'a')).toBe(false);
    expect(store.count(live)).toBe(1);
    expect(store.count(test)).toBe(0);
  });

  it('lists in creation order', () => {
    const store = new ResourceStore<{ id: string }>();
    store.put(live, { id: 'b' });
    store.put(live, { id: 'a' });
    expect(store.list(live).map((item) => item.id)).toEqual(['b', 'a']);
  });
});
