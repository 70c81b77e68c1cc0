import { generateKey, hashKey } from '@keyplane/key-format';
import { bootstrapKeyFingerprint } from './bootstrap-key.js';

describe('bootstrapKeyFingerprint', () => {
  it('takes a well-formed live key to its fingerprint', () => {
    const { key, displayPrefix, last4 } = generateKey({ environment: 'live' });
    expect(bootstrapKeyFingerprint(key, 'tv')).toEqual({ secretHash: hashKey(key), displayPrefix, last4 });
  });

  it('means no bootstrap key when unset', () => {
    expect(bootstrapKeyFingerprint(undefined, 'tv')).toBeUndefined();
  });

  it('stops on a malformed key, giving the reason and never the value', () => {
    const { key } = generateKey({ environment: 'live' });
    const typo = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect(() => bootstrapKeyFingerprint(typo, 'tv')).toThrow(new Error('BOOTSTRAP_ADMIN_KEY is not a valid live API key: key checksum does not match'));
    expect(() => bootstrapKeyFingerprint('hunter2', 'tv')).toThrow(
      new Error('BOOTSTRAP_ADMIN_KEY is not a valid live API key: key must look like {prefix}_{environment}_{secret}'),
    );
  });

  it('stops on a test key or a key of another prefix', () => {
    expect(() => bootstrapKeyFingerprint(generateKey({ environment: 'test' }).key, 'tv')).toThrow(
      new Error('BOOTSTRAP_ADMIN_KEY is not a valid live API key: key environment must be "live"'),
    );
    expect(() => bootstrapKeyFingerprint(generateKey({ environment: 'live', prefix: 'acme' }).key, 'tv')).toThrow(
      new Error('BOOTSTRAP_ADMIN_KEY is not a valid live API key: key prefix must be "tv"'),
    );
  });
});
