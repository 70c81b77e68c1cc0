import { bearerToken } from './bearer.js';

describe('bearerToken', () => {
  it('reads the Bearer scheme in any case', () => {
    expect(bearerToken('Bearer tv_live_abc')).toBe('tv_live_abc');
    expect(bearerToken('bearer tv_live_abc')).toBe('tv_live_abc');
    expect(bearerToken('BEARER tv_live_abc')).toBe('tv_live_abc');
  });

  it.each([
    [undefined],
    [''],
    ['Bearer'],
    ['Bearer '],
    ['Bearer  tv_live_abc'],
    ['Bearer\ttv_live_abc'],
    ['Bearer tv_live_abc extra'],
    ['Basic dHY6'],
    ['Token tv_live_abc'],
    ['Bearertv_live_abc'],
    ['tv_live_abc'],
  ])('finds no credential in %p', (header) => {
    expect(bearerToken(header)).toBeNull();
  });
});
