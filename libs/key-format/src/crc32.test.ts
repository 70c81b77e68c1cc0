import { crc32 } from './crc32.js';

describe('crc32', () => {
  it('matches the IEEE check value', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('is 0 for the empty string', () => {
    expect(crc32('')).toBe(0);
  });

  it('matches known values and stays unsigned', () => {
    expect(crc32('The quick brown fox jumps over the lazy dog')).toBe(0x414fa339);
    expect(crc32('a')).toBe(0xe8b7be43);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    expect(crc32('é')).toBe(crc32('\u00e9'));
    expect(crc32('é')).not.toBe(crc32('\u00c3\u00a9'));
  });
});
