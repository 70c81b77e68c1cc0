import type { DecideRequest } from '@keyplane/contracts';
import { generateKey } from '@keyplane/key-format';
import { keyMasker } from './key-masker.js';

const key = generateKey({ environment: 'live' }).key;
const shown = `${key.slice(0, 12)}…${key.slice(-4)}`;
const ask: DecideRequest = {
  keyHash: 'a'.repeat(64),
  permission: 'KEYS:READ',
  method: 'GET',
  path: '/v1/api-keys',
  clientIp: '127.0.0.1',
  userAgent: 'curl/8.5.0',
  requestId: 'req_1',
};
const mask = keyMasker('tv');

describe('keyMasker', () => {
  it('leaves a request without key text as it is', () => {
    expect(mask(ask)).toBe(ask);
    expect(mask({ ...ask, userAgent: null, path: '/v1/flows/tv_live_short' })).toEqual({ ...ask, userAgent: null, path: '/v1/flows/tv_live_short' });
  });

  it('shows a key in the path, the user agent or the request id only as its prefix and last 4', () => {
    const masked = mask({ ...ask, path: `/v1/api-keys/${key}/usage`, userAgent: `ci ${key} ${key}`, requestId: key });
    expect(masked).toEqual({ ...ask, path: `/v1/api-keys/${shown}/usage`, userAgent: `ci ${shown} ${shown}`, requestId: shown });
  });

  it('masks a key with a typo in it and a test key, but not a key of another prefix', () => {
    const typo = `${key.slice(0, 20)}${key[20] === 'a' ? 'b' : 'a'}${key.slice(21)}`;
    const test = generateKey({ environment: 'test' }).key;
    const other = generateKey({ prefix: 'sk', environment: 'live' }).key;
    expect(mask({ ...ask, path: `/v1/flows/${typo}`, userAgent: test, requestId: other })).toEqual({
      ...ask,
      path: `/v1/flows/${typo.slice(0, 12)}…${typo.slice(-4)}`,
      userAgent: `${test.slice(0, 12)}…${test.slice(-4)}`,
      requestId: other,
    });
  });
});
