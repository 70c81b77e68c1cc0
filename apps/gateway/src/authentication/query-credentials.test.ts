import { generateKey } from '@keyplane/key-format';
import { hasCredentialInQuery } from './query-credentials.js';

// From the key-format vectors: a valid key, and the same with a wrong checksum.
const key = 'tv_live_000000000000000000000000000000004XD7Ne';
const badChecksum = 'tv_live_000000000000000000000000000000004XD7Nf';
const otherPrefix = generateKey({ prefix: 'sk', environment: 'live' }).key;

describe('hasCredentialInQuery', () => {
  it.each(['/v1/flows?api_key=tv_live_x', '/v1/flows?a=1&key=tv_live_x', '/v1/flows?access_token=x', '/v1/flows?API_KEY=x', '/v1/flows?ke%79=x', '/v1/flows?key'])(
    'finds a credential in %s',
    (url) => {
      expect(hasCredentialInQuery(url, 'tv')).toBe(true);
    },
  );

  it.each([`/v1/flows?apiKey=${key}`, `/v1/flows?a=1&token=${key}`, `/v1/flows?api_key[]=${key}`, `/v1/flows?${key}`, `/v1/flows?x=${encodeURIComponent(key)}`])(
    'finds a well-formed key under any name in %s',
    (url) => {
      expect(hasCredentialInQuery(url, 'tv')).toBe(true);
    },
  );

  it.each([
    '/v1/flows',
    '/v1/flows?',
    '/v1/flows?limit=10&keyId=key_1',
    '/v1/flows?monkey=1',
    `/v1/flows?q=${badChecksum}`,
    `/v1/flows?q=${otherPrefix}`,
  ])('finds none in %s', (url) => {
    expect(hasCredentialInQuery(url, 'tv')).toBe(false);
  });
});
