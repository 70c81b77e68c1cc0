import { hasCredentialInQuery } from './query-credentials.js';

describe('hasCredentialInQuery', () => {
  it.each(['/v1/flows?api_key=tv_live_x', '/v1/flows?a=1&key=tv_live_x', '/v1/flows?access_token=x', '/v1/flows?API_KEY=x', '/v1/flows?ke%79=x', '/v1/flows?key'])(
    'finds a credential in %s',
    (url) => {
      expect(hasCredentialInQuery(url)).toBe(true);
    },
  );

  it.each(['/v1/flows', '/v1/flows?', '/v1/flows?limit=10&keyId=key_1', '/v1/flows?monkey=1'])('finds none in %s', (url) => {
    expect(hasCredentialInQuery(url)).toBe(false);
  });
});
