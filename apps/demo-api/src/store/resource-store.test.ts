import { ResourceStore, StoreFull } from './resource-store.js';

const live = { accountId: 'acc_1', environment: 'live' } as const;
const test = { accountId: 'acc_1', environment: 'test' } as const;
const otherAccount = { accountId: 'acc_2', environment: 'live' } as const;

describe('ResourceStore', () => {
  it('keeps each account and environment apart', () => {
    const store = new ResourceStore<{ id: string }>('things');
    store.put(live, { id: 'a' });

    expect(store.get(live, 'a')).toEqual({ id: 'a' });
    expect(store.get(test, 'a')).toBeUndefined();
    expect(store.get(otherAccount, 'a')).toBeUndefined();
    expect(store.delete(test, 'a')).toBe(false);
    expect(store.count(live)).toBe(1);
    expect(store.count(test)).toBe(0);
  });

  it('lists in creation order', () => {
    const store = new ResourceStore<{ id: string }>('things');
    store.put(live, { id: 'b' });
    store.put(live, { id: 'a' });
    expect(store.list(live).map((item) => item.id)).toEqual(['b', 'a']);
  });

  it('refuses a new object over the count, storing nothing, and takes one again after a delete', () => {
    const store = new ResourceStore<{ id: string }>('things', { objects: 2, bytes: 1000 });
    store.put(live, { id: 'a' });
    store.put(live, { id: 'b' });
    expect(() => store.put(live, { id: 'c' })).toThrow(new StoreFull('Too many things: an account keeps at most 2 per environment; delete some first'));
    expect(store.get(live, 'c')).toBeUndefined();
    // Replacing is not adding, and every other tenant has its own budget.
    expect(store.put(live, { id: 'a' })).toEqual({ id: 'a' });
    expect(store.put(test, { id: 'c' })).toEqual({ id: 'c' });
    store.delete(live, 'a');
    expect(store.put(live, { id: 'c' })).toEqual({ id: 'c' });
  });

  it('counts bytes as JSON and refuses a write, new or a replacement, that would go over them', () => {
    const store = new ResourceStore<{ id: string; text: string }>('things', { objects: 10, bytes: 100 });
    const sized = (id: string, bytes: number) => ({ id, text: 'x'.repeat(bytes - JSON.stringify({ id, text: '' }).length) });
    store.put(live, sized('a', 60));
    const full = new StoreFull('Too much data in things: an account keeps at most 100 bytes of them per environment; delete some first');
    expect(() => store.put(live, sized('b', 41))).toThrow(full);
    expect(() => store.put(live, sized('a', 101))).toThrow(full);
    expect(store.get(live, 'a')).toEqual(sized('a', 60));
    // A replacement counts instead of the object it replaces, a delete gives its bytes back.
    store.put(live, sized('a', 100));
    store.put(live, sized('a', 30));
    store.put(live, sized('b', 70));
    store.delete(live, 'b');
    expect(store.put(live, sized('c', 70))).toEqual(sized('c', 70));
  });

  it('describes a budget of whole mebibytes in MiB', () => {
    const store = new ResourceStore<{ id: string; text: string }>('records', { objects: 10, bytes: 1024 * 1024 });
    expect(() => store.put(live, { id: 'a', text: 'x'.repeat(1024 * 1024) })).toThrow('at most 1 MiB of them per environment');
  });
});
