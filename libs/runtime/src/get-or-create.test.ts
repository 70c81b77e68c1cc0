import { getOrCreate } from './get-or-create.js';

describe('getOrCreate', () => {
  it('creates and stores a value on first use, then returns that same value', () => {
    const map = new Map<string, number[]>();
    let created = 0;
    const create = () => {
      created++;
      return [];
    };

    getOrCreate(map, 'a', create).push(1);
    getOrCreate(map, 'a', create).push(2);

    expect(map.get('a')).toEqual([1, 2]);
    expect(created).toBe(1);
  });
});
