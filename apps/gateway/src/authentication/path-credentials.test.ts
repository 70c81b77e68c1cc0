import { hasKeyInPath } from './path-credentials.js';

// From the key-format vectors: a valid key, and the same with a wrong checksum.
const key = 'tv_live_000000000000000000000000000000004XD7Ne';
const badChecksum = 'tv_live_000000000000000000000000000000004XD7Nf';

describe('hasKeyInPath', () => {
  it.each([`/v1/api-keys/${key}`, `/v1/flows/${key}/execute`, `/v1/${key}`, `/v1/flows/${encodeURIComponent(key).replace('t', '%74')}`])('finds a key in %s', (path) => {
    expect(hasKeyInPath(path, 'tv')).toBe(true);
  });

  it.each(['/v1/flows', '/v1/api-keys/key_01J00000000000000000000000', `/v1/flows/${badChecksum}`, `/v1/flows/x${key}`, '/v1/flows/%zz'])('finds none in %s', (path) => {
    expect(hasKeyInPath(path, 'tv')).toBe(false);
  });

  it('looks only for keys of its own prefix', () => {
    expect(hasKeyInPath(`/v1/flows/${key}`, 'sk')).toBe(false);
  });
});
