import { generateKey } from './generate.js';
import { keyShapedPattern } from './format.js';

describe('keyShapedPattern', () => {
  const live = generateKey({ environment: 'live' }).key;
  const other = generateKey({ prefix: 'sk', environment: 'test' }).key;

  it('finds a key of the given prefix inside a longer text, and no other prefix', () => {
    expect(keyShapedPattern('tv').test(`/v1/flows/${live}/x`)).toBe(true);
    expect(keyShapedPattern('tv').test(`retry.${other}`)).toBe(false);
  });

  it('finds a key of any valid prefix when none is given, checksum or not', () => {
    expect(keyShapedPattern().test(`retry.${other}`)).toBe(true);
    expect(keyShapedPattern().test(`${live.slice(0, -1)}x`)).toBe(true);
    expect(keyShapedPattern().test(live.slice(0, -1))).toBe(false);
    expect(keyShapedPattern().test('tv_prod_000000000000000000000000000000004XD7Ne')).toBe(false);
  });
});
